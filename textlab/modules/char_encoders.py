"""Character encoders: one vector per word from its characters (N words in, (N, output_dim) out).

Every encoder takes ``chars`` (N, L) with 0 as padding (real characters are left-aligned) and the
number of real characters per word ``lengths`` (N,), every length >= 1. Padding never changes a
word's vector: the CNN's pads are zero vectors (like Conv1d's own zero padding) and are excluded from
the max; the LSTMs see packed sequences.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

CharEncoderKind = Literal["cnn", "lstm", "both", "cnn_lstm", "none"]

# The encoders hold several float vectors per character position (embedding, features, masked copy): about
# 5 KB per word of 13 characters with the CNN, so a 100,000-token sentence took 0.6 GB, and 3 GB with one
# 64-character token in it. Words are encoded independently, so they go through in slices of at most this many
# character positions (words x longest word) with the same results. Ordinary batches are one slice, as before:
# CoNLL-2003's largest batch of 128 sentences holds 134k positions.
MAX_CHAR_POSITIONS = 1 << 20


def _in_slices(encode, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``encode(chars, lengths)`` over the words (rows) in slices of at most ``MAX_CHAR_POSITIONS`` positions."""
    rows = max(1, MAX_CHAR_POSITIONS // max(chars.size(1), 1))
    if chars.size(0) <= rows:
        return encode(chars, lengths)
    return torch.cat([encode(chars[i : i + rows], lengths[i : i + rows]) for i in range(0, chars.size(0), rows)])


class CharCNN(nn.Module):
    """Ma & Hovy (2016): char embeddings, Conv1d of one or more widths, max over the real characters."""

    def __init__(
        self, num_chars: int, char_dim: int = 30, filters: int = 30, widths: tuple[int, ...] = (3,), dropout: float = 0.0
    ) -> None:
        super().__init__()
        if filters < 1 or not widths or min(widths) < 1:
            raise ValueError(f"the char CNN needs char_filters >= 1 and char_widths >= 1, got {filters} and {list(widths)}")
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        # Ma & Hovy apply dropout to the character embeddings before the CNN; pads stay zero vectors
        self.dropout = nn.Dropout(dropout)
        self.convs = nn.ModuleList(nn.Conv1d(char_dim, filters, w, padding=w // 2) for w in widths)
        self.feature_dim = filters * len(widths)  # per character, before pooling
        self.output_dim = self.feature_dim

    def features(self, chars: torch.Tensor) -> torch.Tensor:
        N, L = chars.shape
        x = self.dropout(self.embedding(chars)).transpose(1, 2)  # (N, C, L)
        # an even width yields L + 1 positions; keep the first L so every width lines up per character
        return torch.cat([conv(x)[:, :, :L] for conv in self.convs], dim=1)  # (N, F, L)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _in_slices(self._encode, chars, lengths)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.features(chars)  # (N, F, L)
        real = torch.arange(chars.size(1), device=chars.device)[None, :] < lengths[:, None]  # (N, L)
        h = h.masked_fill(~real[:, None, :], float("-inf"))
        return h.max(dim=2).values  # (N, F)


class CharLSTM(nn.Module):
    """Lample et al. (2016): BiLSTM over the packed characters; final forward and backward states."""

    def __init__(self, input_dim: int, hidden: int = 25, num_chars: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        # Without num_chars the input is already a feature sequence (the cnn_lstm stack).
        self.embedding = nn.Embedding(num_chars, input_dim, padding_idx=0) if num_chars else None
        self.dropout = nn.Dropout(dropout)  # on the character embeddings, as in CharCNN
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _in_slices(self._encode, chars, lengths)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(chars)) if self.embedding is not None else chars  # (N, L, C)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, N, H)
        return torch.cat([h[0], h[1]], dim=-1)  # (N, 2H)


class CharCNNandLSTM(nn.Module):
    """``both``: a CharCNN and a CharLSTM side by side, outputs concatenated."""

    def __init__(self, cnn: CharCNN, lstm: CharLSTM) -> None:
        super().__init__()
        self.cnn, self.lstm = cnn, lstm
        self.output_dim = cnn.output_dim + lstm.output_dim

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.cnn(chars, lengths), self.lstm(chars, lengths)], dim=-1)


class CharCNNThenLSTM(nn.Module):
    """``cnn_lstm``: the CNN's per-character features are the BiLSTM's input sequence."""

    def __init__(self, cnn: CharCNN, hidden: int) -> None:
        super().__init__()
        self.cnn = cnn
        self.lstm = CharLSTM(cnn.feature_dim, hidden)
        self.output_dim = self.lstm.output_dim

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _in_slices(self._encode, chars, lengths)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.lstm(self.cnn.features(chars).transpose(1, 2), lengths)  # (N, L, F) in


def build_char_encoder(
    kind: CharEncoderKind,
    num_chars: int,
    char_dim: int = 30,
    filters: int = 30,
    widths: tuple[int, ...] = (3,),
    hidden: int = 25,
    dropout: float = 0.0,
) -> nn.Module | None:
    """``dropout`` applies to the character embeddings, before the encoder reads them."""
    if kind == "none":
        return None
    if kind == "lstm":
        return CharLSTM(char_dim, hidden, num_chars=num_chars, dropout=dropout)
    cnn = CharCNN(num_chars, char_dim, filters, tuple(widths), dropout)
    if kind == "cnn":
        return cnn
    if kind == "both":
        return CharCNNandLSTM(cnn, CharLSTM(char_dim, hidden, num_chars=num_chars, dropout=dropout))
    if kind == "cnn_lstm":
        return CharCNNThenLSTM(cnn, hidden)
    raise ValueError(f"unknown char encoder {kind!r}: expected cnn, lstm, both, cnn_lstm or none")
