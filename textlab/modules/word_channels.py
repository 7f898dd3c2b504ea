"""The classifier's word vectors, its ``embedder`` part, in Kim (2014)'s four modes."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from textlab.modules.embedders import WordEmbeddings
from textlab.modules.pretrained import PretrainedWords

EmbeddingMode = Literal["rand", "static", "non-static", "multichannel"]


@torch.no_grad()
def load_pretrained_rows(weight: torch.Tensor, matrix: np.ndarray, found: np.ndarray) -> None:
    """Copy the ``found`` rows of ``matrix`` into the first ``len(matrix)`` rows of ``weight``; redraw the
    others (except <pad>, id 0) uniformly with the pretrained vectors' variance, as Kim (2014) did, so
    random and pretrained rows are on one scale."""
    n, dim = matrix.shape
    if dim != weight.size(1):
        raise ValueError(
            f"pretrained vectors have dimension {dim}, the word embedding {weight.size(1)}: set the part's dim to {dim}")
    if found.any():
        bound = float(np.sqrt(3.0 * matrix[found].var()))
        weight[1:n].uniform_(-bound, bound)
        rows = torch.from_numpy(np.flatnonzero(found))
        weight[rows] = torch.from_numpy(matrix[found]).to(weight.dtype)




class WordChannels(nn.Module, PretrainedWords):
    """Word ids (B, T) -> vectors (B, T, D) in Kim's modes: rand (random, trained), static (pretrained,
    frozen), non-static (pretrained, fine-tuned), multichannel (a frozen and a fine-tuned copy).

    Multichannel returns the sum of the two copies: a TextCNN that applies each filter to both channels
    and adds the results (one bias) computes exactly its filters applied to the sum, since convolution is
    linear; so only a linear first layer (the TextCNN) may use it.

    ``extra_dim`` > 0 concatenates a second, always trained word vector of that size to every token
    (flair's trainable OneHotEmbeddings stacked with pretrained WordEmbeddings). Small pretrained vectors
    (50d) leave the network little room to learn what the task needs; this part gives it that room while
    the pretrained part still places words never seen in training. It starts from zeros, so such a word
    (no gradient ever reaches it) stays its pretrained vector alone. In multichannel mode it belongs to
    the fine-tuned channel (the frozen channel is zero there).
    """

    def __init__(self, num_words: int, dim: int = 100, pretrained: str | None = None, normalize: bool = False,
                 mode: EmbeddingMode = "rand", extra_dim: int = 0) -> None:
        """
        Args:
            num_words: the word vocabulary's size (given by the model).
            dim: word vector size; must equal the pretrained vectors' size when ``pretrained`` is set.
            pretrained: vectors to start from: a GloVe/word2vec text file or ``glove-6b-50d``; null with mode rand.
            normalize: scale each pretrained vector to length 1 (NCRF++'s ``norm_word_emb``).
            mode: rand (random, trained), static (pretrained, frozen), non-static (pretrained, fine-tuned),
                multichannel (a frozen and a fine-tuned copy, summed; for the TextCNN).
            extra_dim: also give every word an always trained vector of this size, from zeros, concatenated
                to its (pretrained) vector; 0: none.
        """
        super().__init__()
        if mode == "rand" and pretrained:
            raise ValueError("mode 'rand' starts from random vectors: set pretrained to null, "
                             "or choose static, non-static or multichannel")
        if mode != "rand" and not pretrained:
            raise ValueError(f"mode {mode!r} needs pretrained vectors: set pretrained (e.g. glove-6b-50d)")
        self.mode = mode
        self.use_pretrained(pretrained, normalize)
        self.words = WordEmbeddings(num_words, dim=dim)
        self.words.weight.requires_grad_(mode != "static")
        self.static = WordEmbeddings(num_words, dim=dim) if mode == "multichannel" else None
        if self.static is not None:
            self.static.weight.requires_grad_(False)
        self.extra = WordEmbeddings(num_words, dim=extra_dim) if extra_dim else None
        if self.extra is not None:
            # zeros, not noise: a word no training text contains (a test word added with the pretrained
            # ones, <unk>) never gets a gradient, and should be its pretrained vector alone
            nn.init.zeros_(self.extra.weight)
        self.output_dim = dim + extra_dim

    @property
    def word_dim(self) -> int:
        return self.words.embedding_dim

    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:
        load_pretrained_rows(self.words.weight, matrix, found)
        if self.static is not None:
            with torch.no_grad():
                self.static.weight.copy_(self.words.weight)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        x = self.words(words)  # (B, T, D)
        if self.static is not None:
            x = x + self.static(words)  # (B, T, D)
        if self.extra is not None:
            x = torch.cat([x, self.extra(words)], dim=-1)  # (B, T, D + extra_dim)
        return x
