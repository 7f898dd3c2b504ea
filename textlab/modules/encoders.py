"""The tagger's sentence encoder, its ``encoder`` part: token vectors in, contextual vectors out."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class RNNEncoder(nn.Module):
    """Bidirectional LSTM or GRU over packed sequences (an LSTM on the CPU: by direction, see there):
    (B, T, input_dim) -> (B, T, 2 * hidden_size)."""

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
        # float32 only: on a CPU without bf16 instructions oneDNN has no bf16 LSTM, and bf16-mixed stopped with
        # "could not create a primitive descriptor"
        float32_on_cpu = x.is_cpu and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
        if float32_on_cpu and isinstance(self.rnn, nn.LSTM) and not torch.onnx.is_in_onnx_export():
            return self._lstm_by_direction(x, lengths)
        return self._packed(x, lengths)

    def _packed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = x.size(1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out  # (B, T, 2H)

    def _lstm_by_direction(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The same BiLSTM, each direction run on padded input: the backward one on each sentence reversed within its
        length, so padding comes after the words in both. Why: on the CPU PyTorch runs a packed LSTM on oneDNN only
        when every sentence of the batch has the same length; otherwise it steps through time one small matrix
        product at a time (with autograd's bookkeeping in training): a batch of 10 sentences took 2.6x as long in the
        LSTM, forward and backward, and tagging the CoNLL-2003 test set in batches of 256 1.3x as long (docs/speed.md).
        Outputs agree with the packed LSTM's to rounding (about 1e-6); the padded positions are zero, as
        pad_packed_sequence leaves them. The ONNX export keeps the packed LSTM: ONNX's LSTM takes the lengths."""
        B, T, _ = x.shape
        steps = torch.arange(T, device=x.device)
        ends = lengths.to(x.device).unsqueeze(1)
        inside = steps < ends  # (B, T)
        # each sentence reversed within its length, padding left in place: its own inverse
        reverse = torch.where(inside, ends - 1 - steps, steps).unsqueeze(-1)
        hidden = self.rnn.hidden_size
        zeros = x.new_zeros(1, B, hidden)
        weights = self.rnn.all_weights  # [forward, backward] for each layer
        for layer in range(self.rnn.num_layers):
            if layer:
                x = nn.functional.dropout(x, self.rnn.dropout, training=self.training)
            # (input, state, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first); train
            # False in eval was no faster (docs/speed.md), and there is no dropout either way
            forward = torch.lstm(x, (zeros, zeros), weights[2 * layer], True, 1, 0.0, True, False, True)[0]
            flipped = x.gather(1, reverse.expand(B, T, x.size(2)))
            backward = torch.lstm(flipped, (zeros, zeros), weights[2 * layer + 1], True, 1, 0.0, True, False, True)[0]
            x = torch.cat([forward, backward.gather(1, reverse.expand(B, T, hidden))], dim=-1)
        return x.masked_fill(~inside.unsqueeze(-1), 0.0)  # (B, T, 2H)
