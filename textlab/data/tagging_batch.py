"""Sentences -> ids -> padded batches for the tagger (the middle of file -> ... -> predictions).

Used by the data module for training and by ``SequenceTagger.predict`` for raw text, so both encode
text the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textlab.data.sentence import Sentence
from textlab.data.vocab import TaggingVocab

# Longer tokens (URLs, hashes) are cut: one 500-character token would widen every word of its batch.
MAX_WORD_CHARS = 64

# Casing classes (Reimers & Gurevych 2017); 0 is padding.
CASINGS = ("<pad>", "other", "numeric", "mostly_numeric", "all_lower", "all_upper", "initial_upper", "contains_digit")


def casing_id(token: str) -> int:
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        kind = "numeric"
    elif digits / max(len(token), 1) > 0.5:
        kind = "mostly_numeric"
    elif token.islower():
        kind = "all_lower"
    elif token.isupper():
        kind = "all_upper"
    elif token[:1].isupper():
        kind = "initial_upper"
    elif digits:
        kind = "contains_digit"
    else:
        kind = "other"
    return CASINGS.index(kind)


@dataclass
class EncodedSentence:
    tokens: list[str]
    words: list[int]
    chars: list[list[int]]
    casing: list[int]
    tags: list[int] | None


def encode_sentence(sentence: Sentence, vocab: TaggingVocab) -> EncodedSentence:
    """Ids for one sentence. Unknown gold tags are the caller's to check (they need file and line)."""
    tokens = sentence.tokens
    return EncodedSentence(
        tokens=tokens,
        words=[vocab.words.id(t) for t in tokens],
        chars=[[vocab.chars.id(c) for c in t[:MAX_WORD_CHARS]] for t in tokens],
        casing=[casing_id(t) for t in tokens],
        tags=None if sentence.tags is None else [vocab.tags.id(t) for t in sentence.tags],
    )


@dataclass
class TaggingBatch:
    """A padded batch. Lightning moves the tensor fields to the device; ``tokens`` stays on the host."""

    words: torch.Tensor  # (B, T) long, 0 = pad
    chars: torch.Tensor  # (B, T, L) long, 0 = pad
    casing: torch.Tensor  # (B, T) long, 0 = pad
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    lengths: torch.Tensor  # (B,) long, on the CPU as packing wants
    tags: torch.Tensor | None  # (B, T) long, 0 where masked; None for unlabelled input
    tokens: list[list[str]]

    def __len__(self) -> int:
        return len(self.tokens)


def collate_tagging(sentences: list[EncodedSentence | dict]) -> TaggingBatch:
    """Pads a list of encoded sentences (objects, or rows of a cached Arrow corpus) into one batch."""
    sentences = [EncodedSentence(**{k: v for k, v in s.items() if k != "n_tokens"}) if isinstance(s, dict) else s
                 for s in sentences]
    B = len(sentences)
    T = max(len(s.words) for s in sentences)
    L = max(1, max(len(c) for s in sentences for c in s.chars))  # an empty token is all padding, not no characters
    words = torch.zeros(B, T, dtype=torch.long)
    casing = torch.zeros(B, T, dtype=torch.long)
    chars = torch.zeros(B, T, L, dtype=torch.long)
    labelled = all(s.tags is not None for s in sentences)
    tags = torch.zeros(B, T, dtype=torch.long) if labelled else None
    lengths = torch.tensor([len(s.words) for s in sentences], dtype=torch.long)
    for b, s in enumerate(sentences):
        n = len(s.words)
        words[b, :n] = torch.tensor(s.words)
        casing[b, :n] = torch.tensor(s.casing)
        for t, word_chars in enumerate(s.chars):
            chars[b, t, : len(word_chars)] = torch.tensor(word_chars)
        if tags is not None:
            tags[b, :n] = torch.tensor(s.tags)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return TaggingBatch(words, chars, casing, mask, lengths, tags, [s.tokens for s in sentences])
