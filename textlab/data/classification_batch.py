"""Texts -> ids -> batches for the classifier (the middle of file -> ... -> predictions).

Used by the data module for training and by ``TextClassifier.predict`` for raw text, so both encode
text the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

# re-exported: the classifier and the tests import them from here (the encoding is torch-free: textlab.runtime
# shares it)
from textlab.data.classification_encoding import EncodedExample, encode_example
from textlab.data.plain_text import Tokenizer, tokenize
from textlab.data.vocab import ClassificationVocab

__all__ = ["ClassificationBatch", "ClassificationVocab", "EncodedExample", "Tokenizer", "collate_classification",
           "encode_example", "tokenize"]


@dataclass(init=False)
class ClassificationBatch:
    """A batch in both layouts; each encoder reads the one it needs. Lightning moves the tensors to the
    device; ``texts`` stays on the host.

    Padded (TextCNN, RNN): ``words`` (B, T) with 0 as padding, ``mask``, ``lengths``.
    Flat (EmbeddingBag): ``flat`` (N,) the real ids of all texts one after another, ``offsets`` (B,)
    where each text starts; no padding at all.
    """

    words: torch.Tensor  # (B, T) long, 0 = pad
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    lengths: torch.Tensor  # (B,) long, every length >= 1
    flat: torch.Tensor  # (N,) long, N = lengths.sum()
    offsets: torch.Tensor  # (B,) long, offsets[0] = 0
    labels: torch.Tensor | None  # (B,) long; None for unlabelled input
    # Not an init field (there is an __init__ below): Lightning's apply_to_collection, which moves every batch
    # to the device, keeps such fields as they are instead of visiting each text (as TaggingBatch.tokens).
    texts: list[str] = field(init=False)
    ids: list[Any] = field(init=False)  # per text, its input record's "id" (None if it has none)

    def __init__(self, words, mask, lengths, flat, offsets, labels, texts, ids=None) -> None:
        self.words, self.mask, self.lengths = words, mask, lengths
        self.flat, self.offsets, self.labels = flat, offsets, labels
        self.texts = texts
        self.ids = ids if ids is not None else [None] * len(texts)

    def __len__(self) -> int:
        return len(self.texts)


def collate_classification(examples: list[EncodedExample]) -> ClassificationBatch:
    B = len(examples)
    lengths = torch.tensor([len(e.words) for e in examples], dtype=torch.long)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    flat = torch.tensor([i for e in examples for i in e.words], dtype=torch.long)
    # real tokens are left-aligned, so words[mask] lists them text by text, in the order of flat
    words = torch.zeros(B, T, dtype=torch.long)
    words[mask] = flat
    offsets = torch.cumsum(lengths, 0) - lengths
    labelled = all(e.label is not None for e in examples)
    labels = torch.tensor([e.label for e in examples], dtype=torch.long) if labelled else None
    return ClassificationBatch(words, mask, lengths, flat, offsets, labels, [e.text for e in examples],
                               [e.id for e in examples])
