"""Splitting a classifier's texts into tokens: on whitespace, or Penn-Treebank-like."""

from __future__ import annotations

import re
from typing import Literal

Tokenizer = Literal["whitespace", "basic"]
# Penn-Treebank-like, as GloVe's corpora were tokenised: "didn't" -> did n't, "film's" -> film 's
_BASIC_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+|[^\w\s]")


def tokenize(text: str, tokenizer: Tokenizer = "whitespace") -> list[str]:
    """``whitespace`` splits on spaces (for pre-tokenised text); ``basic`` also splits off punctuation
    and clitics as the Penn Treebank (and GloVe) do: "isn't great!" -> is, n't, great, !."""
    if tokenizer == "basic":
        return _BASIC_TOKEN.findall(text)
    return text.split()
