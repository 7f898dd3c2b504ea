"""Entities from tags: seqeval's chunker (``get_entities``), the conlleval rules, in plain Python.

Written out here rather than imported because importing seqeval imports scikit-learn and SciPy (two
seconds, and hundreds of MB that a torch-free predictor, ``textlab.runtime``, should not need). The
functions follow seqeval 1.2's ``get_entities``, ``start_of_chunk`` and ``end_of_chunk`` (its default,
non-suffix mode) rule for rule; a test compares them with seqeval on every pair of tags and on random
sequences, and ``textlab.metrics.span_f1`` (the F1, which must equal seqeval's) chunks with them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["end_of_chunk", "extract_spans", "prefix_and_type", "start_of_chunk", "types_from_tags"]

_ENTITY_TAG = re.compile(r"^[BIES]-(.+)$")


def types_from_tags(tags: Sequence[str]) -> list[str]:
    """Sorted entity types of a tag vocabulary: ["O", "B-PER", "I-PER", "S-LOC", "<pad>"] -> ["LOC", "PER"]."""
    return sorted({m.group(1) for m in map(_ENTITY_TAG.match, tags) if m})


def prefix_and_type(tag: str) -> tuple[str, str]:
    """How the chunker reads a tag: "B-PER" -> ("B", "PER"), "O" -> ("O", "_")."""
    return tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk ended between the previous token (``prev_tag`` prefix, ``prev_type``) and this one."""
    return (prev_tag in ("E", "S") or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
            or (prev_tag not in ("O", ".") and prev_type != type_))


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk starts at this token (``tag`` prefix, ``type_``) after the previous one."""
    return (tag in ("B", "S") or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
            or (tag not in ("O", ".") and prev_type != type_))


# (previous tag, tag) -> (a chunk ends before the tag, one starts at it, the previous tag's type), the rules above
# read once per pair of tag strings: a sentence's tags come from a small set, and three calls and a split per
# entity token were most of the chunker's time. None as the previous tag: the start of a sentence. Bounded, for
# gold files with many odd tags.
_PAIRS: dict[tuple[str | None, str], tuple[bool, bool, str]] = {}
_PAIRS_SIZE = 1 << 14


def _read_pair(previous: str | None, chunk: str) -> tuple[bool, bool, str]:
    """The rules for a pair not in ``_PAIRS`` yet, kept there."""
    prev_tag, prev_type = ("O", "") if previous is None else prefix_and_type(previous)
    tag, type_ = prefix_and_type(chunk)
    if len(_PAIRS) >= _PAIRS_SIZE:
        _PAIRS.clear()
    found = _PAIRS[previous, chunk] = (end_of_chunk(prev_tag, tag, prev_type, type_),
                                       start_of_chunk(prev_tag, tag, prev_type, type_), prev_type)
    return found


def extract_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (end inclusive) of one sentence, as seqeval's ``get_entities``.

    Works for IOB1, IOB2 and BIOES and treats ill-formed sequences (``I-`` after ``O``, type
    changes inside a chunk) exactly as conlleval does.
    """
    previous, begin = None, 0
    chunks = []
    for i, chunk in enumerate([*tags, "O"]):  # the "O" after the last token ends a chunk still open
        if chunk == "O" and (previous == "O" or previous is None):  # nothing starts or ends here (most tokens)
            previous = "O"
            continue
        ends, starts, previous_type = _PAIRS.get((previous, chunk)) or _read_pair(previous, chunk)
        if ends:
            chunks.append((previous_type, begin, i - 1))
        if starts:
            begin = i
        previous = chunk
    return chunks
