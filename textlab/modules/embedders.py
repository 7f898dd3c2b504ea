"""Token embedder: word embedding (+) trained word vectors (+) character encoding (+) casing embedding,
one vector per token."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WordEmbedder(nn.Embedding):
    """``nn.Embedding`` with padding id 0 that can be initialised from pretrained vectors.

    With ``num_trainable`` < ``num_words`` the rows from ``num_trainable`` on (words the vocabulary
    took from the pretrained file only, never seen in training) live in a frozen buffer. A word that
    never occurs in a training batch gets a zero gradient anyway, so this changes no result (short of
    weight decay); it only spares every step the dense gradient, clipping and optimiser update over
    a 400k-row table, which was about half of the CoNLL step time on a CPU.

    With ``frozen_copy`` each token gets its vector twice, fine-tuned and as it started (Kim 2014's
    multichannel input). A word seen in training drifts away from the pretrained space while a word
    never seen in training keeps its pretrained vector; the frozen half puts both in the same space.

    With ``pretrained_swap`` p > 0, in training each occurrence of a training word that has a pretrained
    vector gets that vector as loaded instead of its fine-tuned one, with probability p. The network then
    also learns to read vectors from the pretrained space, which is all that a test word never seen in
    training has (word dropout to ``<unk>`` teaches it to do without the word instead).
    """

    def __init__(
        self,
        num_words: int,
        dim: int,
        max_norm: float | None = None,
        scale_grad_by_freq: bool = False,
        num_trainable: int | None = None,
        frozen_copy: bool = False,
        pretrained_swap: float = 0.0,
    ):
        trainable = num_words if num_trainable is None else min(num_trainable, num_words)
        super().__init__(trainable, dim, padding_idx=0, max_norm=max_norm, scale_grad_by_freq=scale_grad_by_freq)
        # Uniform +-sqrt(3/dim) (Ma & Hovy) keeps random rows on the scale of typical pretrained vectors.
        bound = float(np.sqrt(3.0 / dim))
        nn.init.uniform_(self.weight, -bound, bound)
        with torch.no_grad():
            self.weight[0].zero_()
        # saved in the checkpoint: prediction must see the same vectors without the pretrained file
        self.register_buffer("pretrained_only", torch.zeros(num_words - trainable, dim))
        self.frozen_copy = frozen_copy
        self.pretrained_swap = pretrained_swap
        if frozen_copy or pretrained_swap:  # only then, so that checkpoints without them keep loading
            # the trained rows' starting vectors; the pretrained-only rows are frozen already
            self.register_buffer("initial", self.weight.detach().clone())
        if pretrained_swap:
            # which trained rows started from a pretrained vector: only those are swapped
            self.register_buffer("has_pretrained", torch.zeros(trainable, dtype=torch.bool))

    @property
    def output_dim(self) -> int:
        return self.embedding_dim * (2 if self.frozen_copy else 1)

    @property
    def num_words(self) -> int:
        return self.num_embeddings + len(self.pretrained_only)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vectors = self._lookup(ids, super().forward)
        if self.training and self.pretrained_swap > 0:
            vectors = self._swap_in_pretrained(ids, vectors)
        if self.frozen_copy:
            started = self._lookup(ids, lambda rows: nn.functional.embedding(rows, self.initial))
            vectors = torch.cat([vectors, started], dim=-1)
        return vectors

    def _swap_in_pretrained(self, ids: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        trained_rows = ids.clamp(max=self.num_embeddings - 1)
        swappable = (ids < self.num_embeddings) & self.has_pretrained[trained_rows]
        swap = swappable & (torch.rand(ids.shape, device=ids.device) < self.pretrained_swap)
        started = nn.functional.embedding(trained_rows, self.initial)
        return torch.where(swap.unsqueeze(-1), started, vectors)

    def _lookup(self, ids: torch.Tensor, trainable_rows) -> torch.Tensor:
        if not len(self.pretrained_only):
            return trainable_rows(ids)
        trainable = ids < self.num_embeddings
        tuned = trainable_rows(ids.masked_fill(~trainable, 0))  # id 0 is padding: no gradient flows there
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
            raise ValueError(
                f"pretrained vectors have dimension {matrix.shape[1]}, the word embedding {self.embedding_dim}: "
                f"set word_dim to {matrix.shape[1]}"
            )
        n = self.num_embeddings
        rows = torch.from_numpy(np.flatnonzero(found[:n]))
        self.weight[rows] = torch.from_numpy(matrix[:n][found[:n]]).to(self.weight.dtype)
        if self.frozen_copy or self.pretrained_swap:
            self.initial.copy_(self.weight)
        if self.pretrained_swap:
            self.has_pretrained.copy_(torch.from_numpy(found[:n]))
        # a pretrained-only word the file lacks (it cannot happen when the words came from that file) gets zeros
        self.pretrained_only.copy_(torch.from_numpy(matrix[n:] * found[n:, None]))


class TrainedWordVectors(nn.Embedding):
    """A second, always trained vector for each training word, to stack beside the pretrained one
    (flair's trainable OneHotEmbeddings next to its WordEmbeddings).

    It starts from zeros and has rows for the first ``num_words`` ids only, the words seen in training:
    a word the vocabulary took from the pretrained file alone (an id past them) and padding get zeros.
    So a word never seen in training is its pretrained vector alone, as it would be without this part.
    """

    def __init__(self, num_words: int, dim: int):
        super().__init__(num_words, dim, padding_idx=0)
        nn.init.zeros_(self.weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return super().forward(ids.masked_fill(ids >= self.num_embeddings, 0))


class TokenEmbedder(nn.Module):
    def __init__(self, words: WordEmbedder, chars: nn.Module | None, num_casings: int = 0, casing_dim: int = 0,
                 trained_words: TrainedWordVectors | None = None):
        super().__init__()
        self.words = words
        self.trained_words = trained_words
        self.chars = chars
        self.casing = nn.Embedding(num_casings, casing_dim, padding_idx=0) if casing_dim else None
        self.output_dim = (words.output_dim + (trained_words.embedding_dim if trained_words else 0)
                           + (chars.output_dim if chars else 0) + casing_dim)

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, mask: torch.Tensor):
        parts = [self.words(words)]  # (B, T, W)
        if self.trained_words is not None:
            parts.append(self.trained_words(words))  # (B, T, X)
        if self.chars is not None:
            parts.append(self._encode_chars(chars, mask))
        if self.casing is not None:
            parts.append(self.casing(casing))
        return torch.cat(parts, dim=-1)  # (B, T, output_dim)

    def _encode_chars(self, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, L = chars.shape
        real_words = chars[mask]  # (N, L): padding words never reach the encoder
        lengths = (real_words != 0).sum(dim=1).clamp(min=1)
        real_words = real_words[:, : int(lengths.max())]
        encoded = self.chars(real_words, lengths)  # (N, D)
        out = encoded.new_zeros(B, T, encoded.size(-1))
        out[mask] = encoded
        return out  # (B, T, D)
