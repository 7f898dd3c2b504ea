"""Character encoders, the tagger's ``chars`` part: one vector per word from its characters (N words in,
(N, output_dim) out). The model builds them with the size of its character vocabulary (``num_chars``).

Every encoder takes ``chars`` (N, L) with 0 as padding (real characters are left-aligned) and the
number of real characters per word ``lengths`` (N,), every length >= 1. Padding never changes a
word's vector: the CNN's pads are zero vectors (like Conv1d's own zero padding) and are excluded from
the max; the LSTMs see packed sequences.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from textlab.modules.dropout import Dropout

# The encoders hold several float vectors per character position (embedding, character windows, features, masked
# copy): a 100,000-token sentence took 0.6 GB, and 3 GB with one 64-character token in it. Words are encoded
# independently, so they go through in slices of at most this many character positions (words x longest word) with
# the same results: the char CNN's working memory on 100,000 words of 13 characters grew by 199 MB (742 MB with
# slices of 1M positions). Ordinary batches are one slice: CoNLL-2003's largest batch of 128 sentences holds 134k
# positions.
MAX_CHAR_POSITIONS = 1 << 18


def _in_slices(encode, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``encode(chars, lengths)`` over the words (rows) in slices of at most ``MAX_CHAR_POSITIONS`` positions."""
    rows = max(1, MAX_CHAR_POSITIONS // max(chars.size(1), 1))
    if chars.size(0) <= rows:
        return encode(chars, lengths)
    return torch.cat([encode(chars[i : i + rows], lengths[i : i + rows]) for i in range(0, chars.size(0), rows)])


class CharCNN(nn.Module):
    """Ma & Hovy (2016): char embeddings, Conv1d of one or more widths, max over the real characters."""

    def __init__(self, num_chars: int, dim: int = 30, filters: int = 30, widths: tuple[int, ...] = (3,),
                 dropout: float = 0.0) -> None:
        """
        Args:
            num_chars: the character vocabulary's size (given by the model).
            dim: character embedding size.
            filters: filters per width.
            widths: filter widths, e.g. [3] or [2, 3, 4].
            dropout: dropout on the character embeddings before the convolution (Ma & Hovy: 0.5).
        """
        super().__init__()
        if filters < 1 or not widths or min(widths) < 1:
            raise ValueError(f"the char CNN needs filters >= 1 and widths >= 1, got {filters} and {list(widths)}")
        _check_dropout(dropout)
        self.embedding = nn.Embedding(num_chars, dim, padding_idx=0)
        # Ma & Hovy apply dropout to the character embeddings before the CNN; pads stay zero vectors
        self.dropout = Dropout(dropout)
        # Conv1d modules for their weights and settings (the checkpoint's layout); applied by _convolve
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, w, padding=w // 2) for w in widths)
        self.output_dim = filters * len(widths)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _in_slices(self._encode, chars, lengths)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        L = chars.size(1)
        x = self.dropout(self.embedding(chars))  # (N, L, C)
        h = torch.cat([_convolve(x, conv) for conv in self.convs], dim=-1)  # (N, L, F)
        real = torch.arange(L, device=chars.device)[None, :] < lengths[:, None]  # (N, L)
        h = h.masked_fill(~real[:, :, None], float("-inf"))
        return h.max(dim=1).values  # (N, F)


def _convolve(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv`` over the characters of ``x`` (N, L, C), as one matrix product of the character windows: (N, L, F),
    the first L positions (an even width yields L + 1; keeping the first L lines every width up per character).
    Why not Conv1d itself: on the CPU it runs on oneDNN, which builds a convolution for every input shape it has
    not kept, and a prediction batch's shape (distinct words x longest word) seldom repeats: single-sentence
    tagging went from 9.2 to 6.9 ms (p50). Batches of 1,000+ distinct words, where oneDNN is as fast or faster,
    pay 3-5%; one path all the same, so that a word's vector does not depend on its batch (docs/speed.md). The
    ONNX export has its own form (textlab/export/tagger_network.py)."""
    N, L, C = x.shape
    width = conv.kernel_size[0]
    padded = nn.functional.pad(x, (0, 0, conv.padding[0], conv.padding[0]))  # (N, L + 2 pad, C)
    windows = padded.unfold(1, width, 1)[:, :L].reshape(N * L, C * width)  # a window's (C, width) flattened
    return torch.addmm(conv.bias, windows, conv.weight.reshape(conv.out_channels, -1).T).view(N, L, -1)


class CharLSTM(nn.Module):
    """Lample et al. (2016): BiLSTM over the packed characters; final forward and backward states."""

    def __init__(self, num_chars: int, dim: int = 30, hidden: int = 25, dropout: float = 0.0) -> None:
        """
        Args:
            num_chars: the character vocabulary's size (given by the model).
            dim: character embedding size.
            hidden: LSTM hidden size per direction.
            dropout: dropout on the character embeddings before the LSTM.
        """
        super().__init__()
        _check_dropout(dropout)
        self.embedding = nn.Embedding(num_chars, dim, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _in_slices(self._encode, chars, lengths)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(chars))  # (N, L, C)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, N, H)
        return torch.cat([h[0], h[1]], dim=-1)  # (N, 2H)


class CharCNNandLSTM(nn.Module):
    """A CharCNN and a CharLSTM side by side, each with its own character embeddings; outputs concatenated."""

    def __init__(self, num_chars: int, dim: int = 30, filters: int = 30, widths: tuple[int, ...] = (3,),
                 hidden: int = 25, dropout: float = 0.0) -> None:
        """
        Args:
            num_chars: the character vocabulary's size (given by the model).
            dim: character embedding size (of each encoder's own embeddings).
            filters: CNN filters per width.
            widths: CNN filter widths.
            hidden: LSTM hidden size per direction.
            dropout: dropout on the character embeddings before each encoder.
        """
        super().__init__()
        self.cnn = CharCNN(num_chars, dim, filters, widths, dropout)
        self.lstm = CharLSTM(num_chars, dim, hidden, dropout)
        self.output_dim = self.cnn.output_dim + self.lstm.output_dim

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.cnn(chars, lengths), self.lstm(chars, lengths)], dim=-1)


def _check_dropout(p: float) -> None:
    # nn.Dropout refuses values outside [0, 1] itself, but takes 1.0, which zeroes every input in training
    if p == 1.0:
        raise ValueError("dropout 1.0 drops every character in training: use less than 1 (e.g. 0.5)")
