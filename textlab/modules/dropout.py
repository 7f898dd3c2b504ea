"""Variational dropout for (batch, time, features) tensors."""

from __future__ import annotations

import torch
from torch import nn


class VariationalDropout(nn.Dropout1d):
    """One dropout mask per sentence, the same at every position (Gal & Ghahramani 2016; flair's
    LockedDropout; Reimers & Gurevych 2017 found it better than fresh masks for BiLSTM-CRF taggers).

    ``nn.Dropout1d`` zeroes whole channels of an (N, C, L) input: with the features as channels and the
    positions as L, each dropped feature is dropped at every position of its sentence.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return super().forward(x.transpose(1, 2)).transpose(1, 2)
