"""Ma & Hovy (2016)'s initialisation of the tagger, as an option (``SequenceTagger(init="ma_hovy")``).

PyTorch's defaults differ from the published recipe, and under SGD the starting scale is part of the
recipe:
- character (and casing) embeddings: uniform in +-sqrt(3/dim); PyTorch draws N(0, 1), about 5.5 times
  wider at dim 30. NCRF++ uses the same uniform range.
- weight matrices: Glorot-uniform, +-sqrt(6/(rows + cols)), per LSTM/GRU gate; a convolution counts its
  width in both fans, as Lasagne (Ma & Hovy's library) does. PyTorch: +-1/sqrt(hidden) for the
  recurrent cells, Kaiming-uniform with a=sqrt(5) for Conv1d and Linear.
- biases zero, except the LSTM forget gate's, 1.0.
Word vectors are left alone: ``WordEmbedder`` already draws random rows from +-sqrt(3/dim), and
pretrained rows overwrite them; the CRF's transitions keep pytorch-crf's uniform(-0.1, 0.1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from textlab.modules.embedders import TrainedWordVectors, WordEmbedder


def glorot_uniform_(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound)


def _init_recurrent(rnn: nn.LSTM | nn.GRU) -> None:
    gates = 4 if isinstance(rnn, nn.LSTM) else 3
    for name, param in rnn.named_parameters():
        if name.startswith("weight"):
            rows = param.size(0) // gates
            for gate in param.data.split(rows, dim=0):  # (hidden, in) per gate
                glorot_uniform_(gate, gate.size(1), gate.size(0))
        else:
            nn.init.zeros_(param)
            # PyTorch adds bias_ih and bias_hh; the gates are ordered (input, forget, cell, output)
            if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                rows = param.size(0) // gates
                with torch.no_grad():
                    param[rows : 2 * rows].fill_(1.0)


def ma_hovy_init_(module: nn.Module) -> None:
    """Re-initialise ``module``'s parameters in place (see the module docstring)."""
    for m in module.modules():
        if isinstance(m, (nn.LSTM, nn.GRU)):
            _init_recurrent(m)
        elif isinstance(m, nn.Conv1d):
            out_channels, in_channels, width = m.weight.shape
            glorot_uniform_(m.weight, in_channels * width, out_channels * width)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            glorot_uniform_(m.weight, m.in_features, m.out_features)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding) and not isinstance(m, (WordEmbedder, TrainedWordVectors)):
            bound = math.sqrt(3.0 / m.embedding_dim)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound)
                if m.padding_idx is not None:
                    m.weight[m.padding_idx].zero_()
