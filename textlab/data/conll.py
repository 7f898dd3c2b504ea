"""Readers for CoNLL-style token-per-line files, and conversion between tag schemes.

A CoNLL file has one token a line with whitespace-separated columns (token first, tag in some
column, usually the last); a blank line ends a sentence and ``-DOCSTART-`` lines mark document
boundaries. Every problem with a file is reported as a :class:`DataFormatError` naming the file
and the 1-based line, so a user can fix the file without reading a traceback.

Tags are ``O`` or ``P-TYPE`` with ``P`` in B/I/E/S. Internally everything is converted to IOB2
(every entity starts with ``B-``), the one scheme from which the others follow unambiguously.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from itertools import islice

from textlab.data.sentence import Sentence
from textlab.data.text_files import decoded_lines
from textlab.errors import DataFormatError

TAG_SCHEMES = ("IOB1", "IOB2", "BIOES")

DOCSTART = "-DOCSTART-"
_TAG = re.compile(r"O|[BIES]-.+")
_INVALID_TAG = "invalid tag {!r}: expected O or B-/I-/E-/S- followed by an entity type"
# IOB2 prefix and "does the entity continue on the next token?" -> BIOES prefix.
_BIOES_PREFIX = {("B", False): "S-", ("B", True): "B-", ("I", False): "E-", ("I", True): "I-"}
# Enough lines to recognise a CoNLL file without reading a large prediction input twice.
SNIFF_LINES = 200
# Columns are separated by ASCII spaces and tabs only: str.split() would also split at a no-break space or an
# ideographic space inside a token ("10\u00a0000"), shifting the tag into another column.
_COLUMN_SEPARATOR = re.compile(r"[ \t\r\n\f\v]+")


def _columns(line: str) -> list[str]:
    """The whitespace-separated columns of a CoNLL line; ``[]`` for a blank one."""
    if line.isascii():
        return line.split()  # the same columns, several times faster
    return [column for column in _COLUMN_SEPARATOR.split(line) if column]


def read_conll(
    path: str | os.PathLike,
    tag_column: int = -1,
    encoding: str = "utf-8",
    require_tags: bool = True,
) -> list[Sentence]:
    """Read a CoNLL file into sentences; the token is column 0, the tag column ``tag_column``.

    With ``require_tags=False`` only tokens are read (``Sentence.tags`` is None), so a file with
    a single column is accepted. Column counts must agree across the file in either case.
    """
    return list(iter_conll(path, tag_column, encoding, require_tags))


def iter_conll(
    path: str | os.PathLike,
    tag_column: int = -1,
    encoding: str = "utf-8",
    require_tags: bool = True,
) -> Iterator[Sentence]:
    """``read_conll`` one sentence at a time, so a corpus larger than memory can be streamed. A file without a
    single sentence is an error (a training or test file that holds nothing is a mistake)."""
    found = False
    for sentence in conll_sentences(decoded_lines(path, encoding), str(path), tag_column, require_tags):
        found = True
        yield sentence
    if not found:
        raise DataFormatError(
            path,
            1,
            "no sentences found: expected one token per line, blank lines between sentences",
        )


def conll_sentences(
    lines: Iterable[tuple[int, str]],
    where: str,
    tag_column: int = -1,
    require_tags: bool = True,
) -> Iterator[Sentence]:
    """The sentences of CoNLL ``(lineno, text)`` lines (``decoded_lines``) of the input ``where`` names in errors.
    No line with a token gives no sentence, without an error (prediction input may be empty)."""
    tokens: list[str] = []
    tags: list[str] = []
    n_columns = first_line = 0  # fixed by the first token line
    start = 0  # line of the open sentence's first token

    for lineno, line in lines:
        columns = _columns(line)
        if not columns or columns[0] == DOCSTART:
            # A blank line ends a sentence; a document boundary does too, even without a blank line.
            if tokens:
                yield Sentence(tokens, tags if require_tags else None, line=start)
                tokens, tags = [], []
            continue
        if not n_columns:
            n_columns, first_line = len(columns), lineno
            if require_tags and n_columns == 1:
                raise DataFormatError(
                    where, lineno, "expected a token and a tag column, found 1 column"
                )
            if require_tags and not -n_columns <= tag_column < n_columns:
                raise DataFormatError(
                    where, lineno, f"tag column {tag_column} is out of range for {n_columns} columns"
                )
        elif len(columns) != n_columns:
            raise DataFormatError(
                where,
                lineno,
                f"expected {n_columns} columns (as on line {first_line}), found {len(columns)}",
            )
        if not tokens:
            start = lineno
        tokens.append(columns[0])
        if require_tags:
            tag = columns[tag_column]
            if not _TAG.fullmatch(tag):
                raise DataFormatError(where, lineno, _INVALID_TAG.format(tag))
            tags.append(tag)
    if tokens:
        yield Sentence(tokens, tags if require_tags else None, line=start)


def looks_like_conll(lines: Iterable[str]) -> bool:
    """Guess whether a prediction input is CoNLL (True) or plain text (False) from its first lines (up to
    ``SNIFF_LINES`` of ``lines`` are read, so a large input, or standard input, is not read twice).

    CoNLL has one token a line, so its lines have the same number of columns and sentences of several
    lines. It is CoNLL if a ``-DOCSTART-`` line occurs, or if every sniffed line has the same number of
    columns, some two lines follow each other without a blank line, and either blank lines separate such
    groups (a token-per-line file, with or without more columns such as POS) or every line ends with a
    valid tag. Plain sentences rarely do that: their lengths vary, and a single line is a sentence.
    """
    sample = [_columns(line) for line in islice(lines, SNIFF_LINES)]
    rows = [cols for cols in sample if cols]
    if any(cols[0] == DOCSTART for cols in rows):
        return True
    if not rows or any(len(cols) != len(rows[0]) for cols in rows):
        return False
    groups = "".join("x" if cols else " " for cols in sample).split()  # runs of consecutive lines
    if not any(len(group) >= 2 for group in groups):
        return False
    separated = len(groups) >= 2
    tagged = len(rows[0]) >= 2 and all(_TAG.fullmatch(cols[-1]) for cols in rows)
    return separated or tagged


def entity_type(tag: str) -> str | None:
    """The entity type of a tag (``"PER"`` for ``"I-PER"``), or None for ``O``."""
    if tag == "O":
        return None
    if not _TAG.fullmatch(tag):
        raise ValueError(_INVALID_TAG.format(tag))
    return tag[2:]


def detect_scheme(tag_sequences: Iterable[list[str]]) -> str:
    """Guess the scheme of a corpus: BIOES if E-/S- occur, IOB1 if an entity starts with I-."""
    starts_with_i = False
    for tags in tag_sequences:
        previous: str | None = None
        for tag in tags:
            if tag[:2] in ("E-", "S-"):
                return "BIOES"
            current = entity_type(tag)
            if tag.startswith("I-") and current != previous:
                starts_with_i = True
            previous = current
    return "IOB1" if starts_with_i else "IOB2"


def _check_scheme(scheme: str, allowed: tuple[str, ...] = TAG_SCHEMES) -> None:
    if scheme not in allowed:
        raise ValueError(f"unknown tag scheme {scheme!r}: expected one of {', '.join(allowed)}")


def to_iob2(tags: list[str], scheme: str) -> list[str]:
    """Convert tags from IOB1, IOB2 or BIOES to IOB2, repairing ill-formed sequences.

    One rule covers all three schemes: a tag begins an entity if it is B- or S-, or if it is
    I-/E- but does not continue an open entity of the same type (IOB1's entity-initial I-, or a
    stray I- after O in sloppy IOB2). E- and S- close their entity, so a following I- starts anew.
    """
    _check_scheme(scheme)
    converted: list[str] = []
    open_type: str | None = None  # type of the entity the next I-/E- tag would continue
    for tag in tags:
        current = entity_type(tag)
        if current is None:
            converted.append("O")
        else:
            begins = tag[0] in "BS" or current != open_type
            converted.append(("B-" if begins else "I-") + current)
        open_type = None if tag[0] in "ES" else current
    return converted


def from_iob2(tags: list[str], target: str) -> list[str]:
    """Convert IOB2 tags to ``target`` (IOB2 or BIOES); the input is normalised first."""
    _check_scheme(target, ("IOB2", "BIOES"))
    tags = to_iob2(tags, "IOB2")
    if target == "IOB2":
        return tags
    converted: list[str] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            converted.append(tag)
            continue
        # In normalised IOB2 an entity continues exactly when the next tag is I- of its type.
        continues = i + 1 < len(tags) and tags[i + 1] == "I-" + tag[2:]
        converted.append(_BIOES_PREFIX[tag[0], continues] + tag[2:])
    return converted


def scheme_tags(entity_types: Iterable[str], scheme: str) -> list[str]:
    """Every tag ``scheme`` (IOB2 or BIOES) has for these entity types: O, then B-/I-(/E-/S-) of each."""
    prefixes = {"IOB2": "BI", "BIOES": "BIES"}[scheme]
    return ["O", *(f"{prefix}-{kind}" for kind in sorted(set(entity_types)) for prefix in prefixes)]


def convert_tags(tags: list[str], source: str, target: str) -> list[str]:
    """Convert tags from ``source`` (IOB1, IOB2, BIOES) to ``target`` (IOB2, BIOES) via IOB2."""
    return from_iob2(to_iob2(tags, source), target)


def tag_order(tag: str) -> tuple:
    """Sort key of a tag vocabulary: O first, then by entity type, then B I E S, so tag ids are stable and
    readable."""
    return (tag != "O", tag[2:], "BIES".find(tag[:1]))
