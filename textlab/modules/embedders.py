"""Token embedder: word embedding (+) character encoding (+) casing embedding, one vector per token."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WordEmbedder(nn.Embedding):
    """``nn.Embedding`` with padding id 0 that can be initialised from pretrained vectors."""

    def __init__(self, num_words: int, dim: int, max_norm: float | None = None, scale_grad_by_freq: bool = False):
        super().__init__(num_words, dim, padding_idx=0, max_norm=max_norm, scale_grad_by_freq=scale_grad_by_freq)
        # Uniform +-sqrt(3/dim) (Ma & Hovy) keeps random rows on the scale of typical pretrained vectors.
        bound = float(np.sqrt(3.0 / dim))
        nn.init.uniform_(self.weight, -bound, bound)
        with torch.no_grad():
            self.weight[0].zero_()

    @torch.no_grad()
    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:
        """Copy the rows marked ``found``; the others keep their random init."""
        if matrix.shape != tuple(self.weight.shape):
            raise ValueError(
                f"pretrained vectors have dimension {matrix.shape[1]}, the word embedding {self.embedding_dim}: "
                f"set word_dim to {matrix.shape[1]}"
            )
        rows = torch.from_numpy(np.flatnonzero(found))
        self.weight[rows] = torch.from_numpy(matrix[found]).to(self.weight.dtype)


class TokenEmbedder(nn.Module):
    def __init__(self, words: WordEmbedder, chars: nn.Module | None, num_casings: int = 0, casing_dim: int = 0):
        super().__init__()
        self.words = words
        self.chars = chars
        self.casing = nn.Embedding(num_casings, casing_dim, padding_idx=0) if casing_dim else None
        self.output_dim = words.embedding_dim + (chars.output_dim if chars else 0) + casing_dim

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, mask: torch.Tensor):
        parts = [self.words(words)]  # (B, T, W)
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
