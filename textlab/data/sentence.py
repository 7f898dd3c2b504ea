"""The unit every reader produces: one sentence of tokens, with its tags when the source has them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sentence:
    tokens: list[str]
    # None for unlabelled input (prediction files, plain text).
    tags: list[str] | None = None
    # 1-based line of the first token in its file, for error messages (not part of equality: two
    # sentences with the same tokens and tags are the same sentence wherever they were read).
    line: int | None = field(default=None, compare=False)
