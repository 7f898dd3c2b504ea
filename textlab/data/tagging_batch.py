"""Sentences -> ids -> padded batches for the tagger (the middle of file -> ... -> predictions).

Used by the data module for training and by ``SequenceTagger.predict`` for raw text, so both encode
text the same way (``textlab.data.tagging_encoding``, which the torch-free runtime shares too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import torch

from textlab.data.sentence import Origin
# the encoding is torch-free (textlab.runtime shares it); re-exported for the existing imports
from textlab.data.tagging_encoding import CASINGS, MAX_WORD_CHARS, EncodedSentence, casing_id, encode_sentence

__all__ = ["CASINGS", "MAX_WORD_CHARS", "EncodedSentence", "TaggingBatch", "casing_id", "collate_tagging",
           "encode_sentence"]


@dataclass(init=False)
class TaggingBatch:
    """A padded batch. Lightning moves the tensor fields to the device; ``tokens`` stays on the host."""

    words: torch.Tensor  # (B, T) long, 0 = pad
    chars: torch.Tensor  # (B, T, L) long, 0 = pad
    casing: torch.Tensor  # (B, T) long, 0 = pad
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    lengths: torch.Tensor  # (B,) long, on the CPU as packing wants
    tags: torch.Tensor | None  # (B, T) long, 0 where masked; None for unlabelled input
    # Not an init field (there is an __init__ below): Lightning's apply_to_collection, which moves every batch
    # to the device, keeps such fields as they are. It would otherwise visit every token string of the
    # batch, one Python call each: a fifth of the prediction loop's time on a CPU.
    tokens: list[list[str]] = field(init=False)
    origins: list[Origin | None] = field(init=False)  # per sentence, as tokens

    def __init__(self, words, chars, casing, mask, lengths, tags, tokens, origins=None) -> None:
        self.words, self.chars, self.casing, self.mask = words, chars, casing, mask
        self.lengths, self.tags = lengths, tags
        self.tokens = tokens
        self.origins = origins if origins is not None else [None] * len(tokens)

    def __len__(self) -> int:
        return len(self.tokens)


def collate_tagging(sentences: list[EncodedSentence | dict]) -> TaggingBatch:
    """Pads a list of encoded sentences (objects, or rows of a cached Arrow corpus) into one batch.

    Each field is filled by one assignment from a flat tensor, not one small tensor per token: real tokens
    are left-aligned, so ``x[mask]`` lists them sentence by sentence, token by token, as they are concatenated.
    """
    sentences = [EncodedSentence(**{k: v for k, v in s.items() if k != "n_tokens"}) if isinstance(s, dict) else s
                 for s in sentences]
    B = len(sentences)
    lengths = torch.tensor([len(s.words) for s in sentences], dtype=torch.long)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    word_chars = [c for s in sentences for c in s.chars]
    char_counts = torch.tensor([len(c) for c in word_chars], dtype=torch.long)
    L = max(1, int(char_counts.max()) if len(word_chars) else 0)  # an empty token is all padding, not no characters

    def padded(values: list[int]) -> torch.Tensor:
        out = torch.zeros(B, T, dtype=torch.long)
        out[mask] = torch.tensor(values, dtype=torch.long)
        return out

    words = padded([w for s in sentences for w in s.words])
    casing = padded([k for s in sentences for k in s.casing])
    labelled = all(s.tags is not None for s in sentences)
    tags = padded([t for s in sentences for t in s.tags]) if labelled else None
    real_chars = torch.zeros(len(word_chars), L, dtype=torch.long)  # one row per real token
    real_chars[torch.arange(L)[None, :] < char_counts[:, None]] = torch.tensor(list(chain.from_iterable(word_chars)),
                                                                               dtype=torch.long)
    chars = torch.zeros(B, T, L, dtype=torch.long)
    chars[mask] = real_chars
    return TaggingBatch(words, chars, casing, mask, lengths, tags, [s.tokens for s in sentences],
                        [s.origin for s in sentences])
