"""Sentence encoders over token vectors."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class RNNEncoder(nn.Module):
    """Bidirectional LSTM or GRU over packed sequences: (B, T, input_dim) -> (B, T, 2 * hidden_size)."""

    def __init__(
        self,
        input_dim: int,
        hidden_size: int = 200,
        num_layers: int = 1,
        dropout: float = 0.0,
        cell: Literal["lstm", "gru"] = "lstm",
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= recurrent_dropout < 1.0:
            raise ValueError(f"recurrent_dropout must be in [0, 1), not {recurrent_dropout}")
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
        self.recurrent_dropout = recurrent_dropout
        self._recurrent_weights = [name for name, _ in self.rnn.named_parameters() if name.startswith("weight_hh")]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = x.size(1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        if self.training and self.recurrent_dropout > 0:
            # Dropout on the recurrent connections. PyTorch's fused LSTM cannot drop h(t-1) inside its time
            # loop, so this drops entries of the hidden-to-hidden matrices instead, one draw per batch used at
            # every step (DropConnect; Merity et al. 2018's weight drop). The cell itself stays the fused one.
            dropped = {name: F.dropout(getattr(self.rnn, name), self.recurrent_dropout, training=True)
                       for name in self._recurrent_weights}
            out, _ = torch.func.functional_call(self.rnn, dropped, (packed,))
        else:
            out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out  # (B, T, 2H)
