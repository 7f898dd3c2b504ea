"""Word vectors, and the tagger's token embedder: word (+) character encoding (+) casing, one vector per token."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from textlab.modules.pretrained import PretrainedWords


class WordEmbeddings(nn.Embedding, PretrainedWords):
    """Word vectors with padding id 0, random or started from pretrained vectors.

    ``num_words`` and ``num_trainable`` come from the vocabulary when the model is built. With
    ``num_trainable`` < ``num_words`` the rows from ``num_trainable`` on (words the vocabulary took from
    the pretrained file only, never seen in training) live in a frozen buffer. A word that never occurs
    in a training batch gets a zero gradient anyway, so this changes no result (short of weight decay);
    it only spares every step the dense gradient, clipping and optimiser update over a 400k-row table,
    which was about half of the CoNLL step time on a CPU.
    """

    def __init__(
        self,
        num_words: int,
        num_trainable: int | None = None,
        dim: int = 100,
        pretrained: str | None = None,
        normalize: bool = False,
        max_norm: float | None = None,
    ) -> None:
        """
        Args:
            num_words: the vocabulary's size (given by the model).
            num_trainable: how many of the first words are trained (given by the model; None: all).
            dim: vector size; must equal the pretrained vectors' size when ``pretrained`` is set.
            pretrained: vectors to start from: a GloVe/word2vec text file or ``glove-6b-50d``; null: random.
            normalize: scale each pretrained vector to length 1 (NCRF++'s ``norm_word_emb``).
            max_norm: renormalise vectors whose norm exceeds this (``nn.Embedding``'s max_norm); null: no limit.
        """
        if dim < 1:
            raise ValueError(f"dim must be at least 1, not {dim}")
        # nn.Embedding takes any max_norm, and one <= 0 flips or zeroes the looked-up vectors in place
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"max_norm must be > 0 (null: no limit), not {max_norm}")
        trainable = num_words if num_trainable is None else min(num_trainable, num_words)
        super().__init__(trainable, dim, padding_idx=0, max_norm=max_norm)
        self.use_pretrained(pretrained, normalize)
        # Uniform +-sqrt(3/dim) (Ma & Hovy) keeps random rows on the scale of typical pretrained vectors.
        bound = float(np.sqrt(3.0 / dim))
        nn.init.uniform_(self.weight, -bound, bound)
        with torch.no_grad():
            self.weight[0].zero_()
        # saved in the checkpoint: prediction must see the same vectors without the pretrained file
        self.register_buffer("pretrained_only", torch.zeros(num_words - trainable, dim))

    @property
    def output_dim(self) -> int:
        return self.embedding_dim

    @property
    def word_dim(self) -> int:
        return self.embedding_dim

    @property
    def num_words(self) -> int:
        return self.num_embeddings + len(self.pretrained_only)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not len(self.pretrained_only):
            return super().forward(ids)
        trainable = ids < self.num_embeddings
        tuned = super().forward(ids.masked_fill(~trainable, 0))  # id 0 is padding: no gradient flows there
        fixed = nn.functional.embedding((ids - self.num_embeddings).clamp(min=0), self.pretrained_only)
        if self.max_norm is not None:
            # nn.Embedding applies max_norm to the trained rows only; without this the pretrained-only words
            # (most test words unseen in training) would keep their longer vectors. Out of place: the buffer
            # stays the file's vectors.
            norms = fixed.norm(p=self.norm_type, dim=-1, keepdim=True)
            fixed = fixed * (self.max_norm / (norms + 1e-7)).clamp(max=1.0)
        return torch.where(trainable.unsqueeze(-1), tuned, fixed)

    @torch.no_grad()
    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:
        """Copy the rows marked ``found``; the others keep their random init."""
        if matrix.shape != (self.num_words, self.embedding_dim):
            raise ValueError(f"pretrained vectors have dimension {matrix.shape[1]}, the word embedding "
                             f"{self.embedding_dim}: set the words part's dim to {matrix.shape[1]}")
        n = self.num_embeddings
        rows = torch.from_numpy(np.flatnonzero(found[:n]))
        self.weight[rows] = torch.from_numpy(matrix[:n][found[:n]]).to(self.weight.dtype)
        # a pretrained-only word the file lacks (it cannot happen when the words came from that file) gets zeros
        self.pretrained_only.copy_(torch.from_numpy(matrix[n:] * found[n:, None]))


class TokenEmbedder(nn.Module):
    """Word vector (+) character encoding (+) casing embedding: (B, T) ids -> (B, T, output_dim)."""

    def __init__(self, words: WordEmbeddings, chars: nn.Module | None, num_casings: int = 0, casing_dim: int = 0):
        super().__init__()
        self.words = words
        self.chars = chars
        self.casing = nn.Embedding(num_casings, casing_dim, padding_idx=0) if casing_dim else None
        self.output_dim = words.output_dim + (chars.output_dim if chars else 0) + casing_dim

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, mask: torch.Tensor):
        parts = [self.words(words)]  # (B, T, W)
        if self.chars is not None:
            parts.append(self._encode_chars(chars, mask))  # (B, T, C)
        if self.casing is not None:
            parts.append(self.casing(casing))  # (B, T, casing_dim)
        return torch.cat(parts, dim=-1)  # (B, T, output_dim)

    def _encode_chars(self, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, L = chars.shape
        real_words = chars[mask]  # (N, L): padding words never reach the encoder
        lengths = (real_words != 0).sum(dim=1).clamp(min=1)
        real_words = real_words[:, : int(lengths.max())]
        if self.training or torch.onnx.is_in_onnx_export():  # an exported graph stays one pass, without Unique
            encoded = self.chars(real_words, lengths)  # (N, D)
        else:
            # Equal words get equal vectors, so outside training each distinct word is encoded once: a batch of
            # CoNLL-2003 text holds about half as many distinct words as tokens, and the char CNN took a third of
            # tagging time (scripts/benchmark_speed.py). Training keeps one pass per token, as it was measured.
            distinct, inverse = _distinct_rows(real_words)
            encoded = self.chars(distinct, (distinct != 0).sum(dim=1).clamp(min=1))[inverse]
        out = encoded.new_zeros(B, T, encoded.size(-1))
        out[mask] = encoded
        return out  # (B, T, D)


def _distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(rows, dim=0, return_inverse=True)`` up to the order of the distinct rows, faster: each row
    hashed to one int64 and the hashes made unique (unique over rows sorts whole rows: 62 ms for the CoNLL-2003
    test set's batches against 5 ms, one thread). Rows with equal hashes are checked to be equal; if two differ,
    unique over rows."""
    if rows.size(1) > len(_ROW_HASH):
        return _unique_rows(rows)
    keys, inverse = torch.unique((rows * _ROW_HASH[: rows.size(1)].to(rows.device)).sum(dim=1), return_inverse=True)
    # a row of each hash (int64 products wrap around)
    representative = torch.empty(len(keys), dtype=torch.long, device=rows.device).scatter_(
        0, inverse, torch.arange(len(rows), device=rows.device))
    distinct = rows[representative]
    if not torch.equal(distinct[inverse], rows):  # a collision: two different words with one hash
        return _unique_rows(rows)
    return distinct, inverse


def _unique_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.unique(rows, dim=0, return_inverse=True)


# The hash's weights, a random 64-bit number per character position, for up to 256 positions (words are cut at
# MAX_WORD_CHARS, 64; longer rows take unique over rows): two different rows then share a hash with a chance of
# about 2^-64 (and the check catches it). Fixed, not per run.
_ROW_HASH = torch.from_numpy(np.random.default_rng(0).integers(-2**63, 2**63, size=256, dtype=np.int64))
