"""The unit every reader produces: one sentence of tokens, with its tags when the source has them, and where
it came from when it was cut out of plain text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where a sentence cut out of plain text sits in its document: what character offsets are made of."""

    document: int  # the document's number in the input, from 0
    paragraph: int  # the paragraph's number in the document, from 0
    sentence: int  # the sentence's number in the document, from 0
    starts: tuple[int, ...]  # each token's first character, an offset into the document
    text: str  # the document's characters from the first token's start to the last token's end
    document_id: Any = None  # the input record's "id", when it has one

    def char_span(self, tokens: list[str], start: int, end: int) -> tuple[int, int, str]:
        """Tokens ``start:end`` as ``(start_char, end_char, the original text)``."""
        first, last = self.starts[start], self.starts[end - 1] + len(tokens[end - 1])
        return first, last, self.text[first - self.starts[0] : last - self.starts[0]]


@dataclass(frozen=True)
class Sentence:
    tokens: list[str]
    # None for unlabelled input (prediction files, plain text).
    tags: list[str] | None = None
    # 1-based line of the first token in its file, for error messages (not part of equality: two
    # sentences with the same tokens and tags are the same sentence wherever they were read).
    line: int | None = field(default=None, compare=False)
    origin: Origin | None = field(default=None, compare=False)
