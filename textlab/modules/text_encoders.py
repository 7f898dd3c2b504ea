"""The classifier's sentence encoders over token vectors, its ``encoder`` part: one vector per text, (B, output_dim).

``TextCNN`` (Kim 2014) and ``PooledRNN`` ((bi)LSTM/GRU pooled over the real tokens) read the embedder's
token vectors (B, T, D) with the batch's mask (B, T). (``NgramBag``, in ``ngram_bags.py``, reads word
ids instead.) Padding never changes a text's vector: TextCNN masks every window that holds no real token
out of its max, PooledRNN packs its input and pools over the real positions only. Every text has at least
one token.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

Pooling = Literal["max", "mean", "last"]


def masked_pool(h: torch.Tensor, mask: torch.Tensor, how: Literal["max", "mean"]) -> torch.Tensor:
    """Max or mean over the positions where ``mask`` is True: (B, T, F), (B, T) -> (B, F)."""
    if how == "max":
        return h.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values  # (B, F)
    total = h.masked_fill(~mask[:, :, None], 0.0).sum(dim=1)  # (B, F)
    return total / mask.sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)  # (B, F)


class TextCNN(nn.Module):
    reads_ids = False  # reads token vectors (the embedder's)

    """Kim (2014): Conv1d filters of several widths over the token vectors, ReLU, max over time.

    (B, T, input_dim), mask (B, T) -> (B, filters * len(widths)). Each filter slides over the text with
    ``width - 1`` zero vectors on either side (Kim's padding), so a text shorter than the widest filter
    still has windows; windows holding no real token are left out of the max, so the result does not
    depend on how much the batch is padded.
    """

    def __init__(self, input_dim: int, filters: int = 100, widths: tuple[int, ...] = (3, 4, 5)) -> None:
        """
        Args:
            input_dim: the token vectors' size (given by the model: its embedder's output size).
            filters: filters per width.
            widths: filter widths, e.g. [3, 4, 5].
        """
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"filter widths must be >= 1, got {widths}")
        if filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters}")
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(nn.Conv1d(input_dim, filters, w, padding=w - 1) for w in self.widths)
        self.output_dim = filters * len(self.widths)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        x = x.masked_fill(~mask[:, :, None], 0.0).transpose(1, 2)  # (B, D, T), pads are zero vectors
        lengths = mask.sum(dim=1)  # (B,)
        pooled = []
        for conv, w in zip(self.convs, self.widths):
            h = conv(x)  # (B, F, T + w - 1): window j covers tokens j - w + 1 .. j
            windows = torch.arange(T + w - 1, device=x.device)[None, :] < (lengths + w - 1)[:, None]  # (B, T + w - 1)
            h = h.masked_fill(~windows[:, None, :], float("-inf"))
            pooled.append(h.max(dim=2).values)  # (B, F)
        return torch.relu(torch.cat(pooled, dim=1))  # (B, F * len(widths)); relu(max) == max(relu)


class PooledRNN(nn.Module):
    reads_ids = False

    """(Bi)directional LSTM or GRU over packed sequences, pooled into one vector per text.

    (B, T, input_dim), mask (B, T) -> (B, hidden_size * directions). ``max``/``mean`` pool the last
    layer's outputs over the real tokens only; ``last`` takes the final states (forward after the last
    real token, backward after the first).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        cell: Literal["lstm", "gru"] = "lstm",
        pooling: Pooling = "max",
        dropout: float = 0.0,
    ) -> None:
        """
        Args:
            input_dim: the token vectors' size (given by the model: its embedder's output size).
            hidden_size: hidden size per direction.
            num_layers: stacked layers.
            bidirectional: read the text in both directions.
            cell: lstm or gru.
            pooling: max or mean over the real tokens, or last (the final states).
            dropout: dropout between stacked layers (no effect with one layer).
        """
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(
            input_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers only
        )
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden_size * self.directions

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        lengths = mask.sum(dim=1)  # (B,): the real tokens are left-aligned
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H), in batch order
            h = h.view(-1, self.directions, B, h.size(-1))[-1]  # (dirs, B, H): the last layer
            return h.transpose(0, 1).reshape(B, self.output_dim)  # (B, dirs * H)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, dirs * H)
        return masked_pool(out, mask, self.pooling)  # (B, dirs * H)
