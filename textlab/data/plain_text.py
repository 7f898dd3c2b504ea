"""Plain text -> paragraphs -> sentences -> tokens, each token with its character offset into the text.

Every token is an exact substring of the text it came from (``text[start:start + len(token)] == token``),
so entities found on the tokens map back to the characters the user wrote.

Tokenizers (a model's choice, kept in its checkpoint: text is read at prediction as it was set up in training):
- ``syntok``: sentences and tokens by syntok (the maintained successor of segtok, flair's splitter), with two
  CoNLL-2003 / Penn Treebank conventions restored: an abbreviation keeps its period (``U.S.``, ``Mr.``, ``J.``)
  and a hyphenated word is one token (``Franco-German``, ``1-0``); syntok cuts both. A line break ends a
  sentence; a blank line ends a paragraph.
- ``whitespace``: pre-tokenised text, one sentence a line, tokens split on whitespace.
- ``basic`` (classifiers): one text a line, punctuation and clitics split off by a regular expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, Literal

from textlab.data.sentence import Origin, Sentence
from textlab.errors import DataFormatError

Tokenizer = Literal["syntok", "whitespace", "basic"]
TOKENIZERS: tuple[str, ...] = ("syntok", "whitespace", "basic")

# (token, offset of its first character)
TokenAt = tuple[str, int]

# Penn-Treebank-like, as GloVe's corpora were tokenised: "didn't" -> did n't, "film's" -> film 's
_BASIC_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+|[^\w\s]")
_NOT_SPACE = re.compile(r"\S+")
# A line with its break, as files are read by lines (LF, CRLF, CR): not str.splitlines, which also breaks at \v, \f,
# \x1c-\x1e, \x85, \u2028 and \u2029, characters a line can hold (a pre-tokenised line stays one sentence).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")

# Abbreviations CoNLL-2003 (Reuters) writes with their period; syntok splits the period off them.
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")  # U.S, p.m, U.N
_ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Dr Prof Gen Col Lt Sgt Capt Cmdr Adm Gov Sen Rep Rev St Mt Ft Jr Sr Inc Corp Co Ltd Bros Plc "
    "No Nos vs etc Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Mon Tue Wed Thu Fri Sat Sun".split()
)


def _keeps_period(token: str) -> bool:
    return bool(_INITIALS.match(token)) or token in _ABBREVIATIONS or (len(token) == 1 and token.isupper())


def conll_style(text: str, tokens: list[TokenAt]) -> list[TokenAt]:
    """syntok's tokens of one sentence with CoNLL-2003's conventions, where syntok cuts a token in two:
    ``U.S`` ``.`` -> ``U.S.``; ``Franco`` ``German`` (syntok drops the hyphen) -> ``Franco-German``; ``Mc``
    ``Lean`` (split at the inner capital) -> ``McLean``; ``1`` ``.`` opening a sentence (a list's number) -> ``1.``;
    ``.`` ``500`` -> ``.500``, ``+`` ``44`` -> ``+44`` (a number's point or sign after a space)."""
    merged: list[TokenAt] = []
    for token, start in tokens:
        if merged:
            last, last_start = merged[-1]
            last_end = last_start + len(last)
            if start == last_end:
                after_space = last_start == 0 or text[last_start - 1].isspace()
                joins = (token == "." and (_keeps_period(last) or (len(merged) == 1 and last.isdigit()))) or (
                    last.isalpha() and token.isalpha()) or (last in ".+" and token[:1].isdigit() and after_space)
            else:
                joins = text[last_end:start] == "-" and last[-1:].isalnum() and token[:1].isalnum()
            if joins:
                merged[-1] = (text[last_start : start + len(token)], last_start)
                continue
        merged.append((token, start))
    return merged


def _numbered(sentences: list[list[TokenAt]]) -> list[list[TokenAt]]:
    """A list item's number that syntok took for a sentence of its own (``1.`` of ``1. Michael Schumacher``)
    joins the sentence it numbers."""
    for i in range(len(sentences) - 1, 0, -1):
        previous = sentences[i - 1]
        if len(previous) == 1 and previous[0][0][:-1].isdigit() and previous[0][0].endswith("."):
            sentences[i - 1 : i + 1] = [previous + sentences[i]]
    return sentences


def split_sentences(text: str, tokenizer: Tokenizer, offset: int = 0) -> Iterator[tuple[int, list[TokenAt]]]:
    """``(paragraph, tokens)`` for each sentence of ``text``, paragraphs counted from 0 within ``text``; token
    offsets are into ``text`` plus ``offset``. Sentences without a token are skipped."""
    if tokenizer == "syntok":
        # imported here: a classifier with another tokenizer never needs it
        from syntok import segmenter

        def line_sentences(line: str, position: int) -> Iterator[list[TokenAt]]:
            sentences = [conll_style(line, [(t.value, t.offset) for t in sentence if t.value])
                         for paragraph in segmenter.analyze(line) for sentence in paragraph]
            for tokens in _numbered([tokens for tokens in sentences if tokens]):
                yield [(token, start + position) for token, start in tokens]
    else:
        pattern = _BASIC_TOKEN if tokenizer == "basic" else _NOT_SPACE

        def line_sentences(line: str, position: int) -> Iterator[list[TokenAt]]:
            tokens = [(m.group(), m.start() + position) for m in pattern.finditer(line)]
            if tokens:
                yield tokens

    # A line break ends a sentence (as flair's segtok splitter has it): headlines, datelines, list items and
    # table rows are lines without final punctuation, and run into the next sentence otherwise (CoNLL-2003
    # test F1 -2.9 points: scripts/benchmark_tokenization.py). A blank line ends a paragraph.
    paragraph, in_paragraph, position = 0, False, offset
    for line in _LINE.findall(text):
        found = False
        for tokens in line_sentences(line, position):
            found = True
            yield paragraph, tokens
        position += len(line)
        if found:
            in_paragraph = True
        elif in_paragraph and not line.strip():
            paragraph, in_paragraph = paragraph + 1, False


def tokenize(text: str, tokenizer: Tokenizer = "whitespace") -> list[str]:
    """The tokens of ``text`` as one sequence (a classifier's input): ``whitespace`` splits on spaces (for
    pre-tokenised text); ``basic`` also splits off punctuation and clitics as the Penn Treebank (and GloVe)
    do: "isn't great!" -> is, n't, great, !; ``syntok`` as for a tagger, all sentences together."""
    if tokenizer == "basic":
        return _BASIC_TOKEN.findall(text)
    if tokenizer == "syntok":
        return [token for _, tokens in split_sentences(text, "syntok") for token, _ in tokens]
    return text.split()


def document_sentences(text: str, tokenizer: Tokenizer, document: int = 0, document_id: Any = None
                       ) -> Iterator[Sentence]:
    """The sentences of one document held in memory (a JSON record's text, an API call's string)."""
    for number, (paragraph, tokens) in enumerate(split_sentences(text, tokenizer)):
        yield _sentence(text, 0, tokens, Origin(document, paragraph, number, (), "", document_id))


def stream_document(lines: Iterable[str], tokenizer: Tokenizer, document: int = 0) -> Iterator[Sentence]:
    """The sentences of one document read line by line (a plain-text file, stdin), a block of paragraphs at a
    time, so memory holds one block and not the document. Offsets count the characters of the lines as given
    (a CRLF is two characters, as in a file read with ``open(path, newline="")``).

    A block ends at a blank line once it holds ``_BLOCK_CHARS``; text without blank lines is cut at a line
    break after ``_MAX_BLOCK_CHARS`` (the one place a sentence could be split where the text does not end it).
    """
    block: list[str] = []
    size, offset = 0, 0  # characters in the block; the block's offset in the document
    state = _Numbering(document)
    for line in lines:
        blank = not line.strip()
        if block and ((blank and size >= _BLOCK_CHARS) or size >= _MAX_BLOCK_CHARS):
            yield from state.sentences("".join(block), offset, tokenizer, ends_paragraph=blank)
            offset += size
            block, size = [], 0
        block.append(line)
        size += len(line)
    if block:
        yield from state.sentences("".join(block), offset, tokenizer, ends_paragraph=True)


_BLOCK_CHARS = 1 << 14
_MAX_BLOCK_CHARS = 1 << 20


class _Numbering:
    """Paragraph and sentence numbers across the blocks of one document."""

    def __init__(self, document: int) -> None:
        self.document, self.paragraph, self.sentence = document, 0, 0
        self.open_paragraph = False  # the last block's last paragraph goes on into the next block

    def sentences(self, block: str, offset: int, tokenizer: Tokenizer, ends_paragraph: bool) -> Iterator[Sentence]:
        local = None
        for paragraph, tokens in split_sentences(block, tokenizer, offset):
            if local is None:
                local = paragraph
                if self.sentence and not self.open_paragraph:
                    self.paragraph += 1
            elif paragraph != local:
                local = paragraph
                self.paragraph += 1
            yield _sentence(block, offset, tokens, Origin(self.document, self.paragraph, self.sentence, (), ""))
            self.sentence += 1
        if local is not None:
            self.open_paragraph = not ends_paragraph


def _sentence(text: str, offset: int, tokens: list[TokenAt], where: Origin) -> Sentence:
    """A ``Sentence`` of ``tokens`` (offsets into the document; ``text`` starts at ``offset`` in it)."""
    starts = tuple(start for _, start in tokens)
    last_token, last_start = tokens[-1]
    span = text[starts[0] - offset : last_start + len(last_token) - offset]
    return Sentence([token for token, _ in tokens], origin=replace(where, starts=starts, text=span))


def jsonl_documents(lines: Iterable[tuple[int, str]], where: str, tokenizer: Tokenizer) -> Iterator[Sentence]:
    """The sentences of JSON-lines documents, one ``{"text": ..., "id": ...}`` object a line (``id`` optional,
    carried to the output); offsets are into each record's text. Blank lines are skipped."""
    document = 0
    for lineno, line in lines:
        if not line.strip():
            continue
        text, document_id = json_text(line, where, lineno)
        yield from document_sentences(text, tokenizer, document, document_id)
        document += 1


def json_text(line: str, where: str, lineno: int, field: str = "text") -> tuple[str, Any]:
    """A JSON line's ``text`` (or ``field``) and ``id`` (None if absent); anything else is a one-line error naming
    the line."""
    example = json.dumps({field: "Angela Merkel visited Paris."})
    try:
        record = json.loads(line)
    except ValueError as e:
        raise DataFormatError(where, lineno, f"not JSON ({e}): expected one object a line, such as {example}") from None
    if not isinstance(record, dict) or not isinstance(record.get(field), str):
        raise DataFormatError(where, lineno, f'expected a JSON object with a "{field}" string, such as '
                                             f'{example[:-1]}, "id": 7}}')
    return record[field], record.get("id")


def looks_like_jsonl(first_line: str | None) -> bool:
    """JSON lines, not plain text: the first non-blank line is a JSON object."""
    return first_line is not None and first_line.lstrip().startswith("{") and first_line.rstrip().endswith("}")
