"""Encoded sentences and texts -> the padded numpy arrays an exported model reads: the same layout and values
as ``collate_tagging`` and ``collate_classification`` give PyTorch (int64, 0 as padding, real positions
left-aligned), by the same method: each array filled by one assignment from a flat list through the mask."""

from __future__ import annotations

from itertools import chain

import numpy as np

from textlab.data.classification_encoding import EncodedExample
from textlab.data.tagging_encoding import EncodedSentence


def _mask(lengths: np.ndarray) -> np.ndarray:
    return np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (B, T) bool, True on real positions


def tagging_arrays(sentences: list[EncodedSentence]) -> dict[str, np.ndarray]:
    """``words`` (B, T), ``chars`` (B, T, W), ``casing`` (B, T), ``lengths`` (B,), int64; and ``mask`` (B, T) bool."""
    lengths = np.array([len(s.words) for s in sentences], dtype=np.int64)
    mask = _mask(lengths)
    word_chars = [c for s in sentences for c in s.chars]
    char_counts = np.array([len(c) for c in word_chars], dtype=np.int64)
    W = max(1, int(char_counts.max()) if len(word_chars) else 0)  # an empty token is all padding, not no characters

    def padded(values: list[int]) -> np.ndarray:
        out = np.zeros(mask.shape, dtype=np.int64)
        out[mask] = values
        return out

    real_chars = np.zeros((len(word_chars), W), dtype=np.int64)  # one row per real token
    real_chars[np.arange(W)[None, :] < char_counts[:, None]] = list(chain.from_iterable(word_chars))
    chars = np.zeros((*mask.shape, W), dtype=np.int64)
    chars[mask] = real_chars
    return {"words": padded([w for s in sentences for w in s.words]), "chars": chars,
            "casing": padded([k for s in sentences for k in s.casing]), "lengths": lengths, "mask": mask}


def classification_arrays(examples: list[EncodedExample]) -> dict[str, np.ndarray]:
    """Both layouts of ``ClassificationBatch``: padded ``words`` (B, T), ``mask`` (B, T) bool and ``lengths`` (B,);
    flat ``flat`` (N,), every text's ids one after another, and ``offsets`` (B,), where each text starts."""
    lengths = np.array([len(e.words) for e in examples], dtype=np.int64)
    mask = _mask(lengths)
    flat = np.array([i for e in examples for i in e.words], dtype=np.int64)
    words = np.zeros(mask.shape, dtype=np.int64)
    words[mask] = flat
    offsets = np.cumsum(lengths) - lengths
    return {"words": words, "mask": mask, "lengths": lengths, "flat": flat, "offsets": offsets}
