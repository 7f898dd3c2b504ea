"""The tagger's sentence encoder, its ``encoder`` part: token vectors in, contextual vectors out."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class RNNEncoder(nn.Module):
    """Bidirectional LSTM or GRU over packed sequences: (B, T, input_dim) -> (B, T, 2 * hidden_size)."""

    def __init__(
        self,
        input_dim: int,
        hidden_size: int = 200,
        num_layers: int = 1,
        cell: Literal["lstm", "gru"] = "lstm",
        dropout: float = 0.5,
    ) -> None:
        """
        Args:
            input_dim: the token vectors' size (given by the model: its embedder's output size).
            hidden_size: hidden size per direction.
            num_layers: stacked layers.
            cell: lstm or gru.
            dropout: dropout between stacked layers (no effect with one layer).
        """
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(
            input_dim,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers only
            batch_first=True,
            bidirectional=True,
        )
        self.output_dim = 2 * hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = x.size(1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out  # (B, T, 2H)
