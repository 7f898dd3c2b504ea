"""The classifier's network (words -> TextCNN | pooled RNN | n-gram bag -> linear -> softmax, averaged with the
ensemble's probabilities when it has one) in the form the ONNX exporter traces with dynamic sizes.

Every encoder reads the padded word ids (B, T) and the lengths (B,). The n-gram bags (``NgramBag``,
``NgramLogisticRegression``) read PyTorch's flat layout and hash their n-grams there with a stable sort and
boolean indexing (``hash_ngrams``), which the tracer would freeze to the example's sizes. Here the same hashes
are taken over the padded ids, each n-gram at the position of its first word, and the bag is the masked sum of
the looked-up rows: the same rows, summed in another order.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.errors import TextlabError
from textlab.modules.ngram_bags import NGRAM_PRIME, NgramBag, NgramLogisticRegression
from textlab.modules.text_encoders import PooledRNN, TextCNN, masked_pool
from textlab.modules.word_channels import WordChannels


def channels_table(embedder: WordChannels) -> torch.Tensor:
    """``WordChannels.forward`` as one (V, D) table: the two channels summed (multichannel), the extra part beside."""
    table = embedder.words.weight.detach().float()
    if embedder.static is not None:
        table = table + embedder.static.weight.detach().float()
    if embedder.extra is not None:
        table = torch.cat([table, embedder.extra.weight.detach().float()], dim=1)
    return table


def ngram_features(words: torch.Tensor, lengths: torch.Tensor, ngrams: int, buckets: int, bucket_row: int
                   ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``hash_ngrams`` on padded ids: per n (1 .. ngrams), the row ids (B, T) of the n-grams starting at each
    position, and which of them are real (inside the text).

    An n-gram's hash is PyTorch's (``NGRAM_PRIME`` over the word ids); its row is ``bucket_row`` + hash
    (``bucket_row`` is the vocabulary's size unless the table was trimmed).
    """
    T = words.shape[1]
    positions = torch.arange(T, device=words.device)[None, :]  # (1, T)
    features = [(words, positions < lengths[:, None])]
    for n in range(2, ngrams + 1):
        padded = nn.functional.pad(words, (0, n - 1))  # (B, T + n - 1): every position starts an n-gram, real or not
        h = torch.full_like(words, n)
        for j in range(n):
            h = (h * NGRAM_PRIME + padded[:, j : j + T]) % buckets  # < buckets * prime: no int64 overflow
        features.append((bucket_row + h, positions + n - 1 < lengths[:, None]))
    return features


def bag_sum(table: torch.Tensor, features: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The sum of the rows of every real feature (B, D), and how many there were (B, 1)."""
    total = sum((nn.functional.embedding(ids, table) * real[:, :, None].to(table.dtype)).sum(dim=1)
                for ids, real in features)
    count = sum(real.sum(dim=1, keepdim=True) for _, real in features)
    return total, count


def trimmed_rows(table: torch.Tensor, num_words: int, rows: int) -> torch.Tensor:
    """The first ``rows`` word rows and every n-gram row after the ``num_words`` word rows."""
    return torch.cat([table[:rows], table[num_words:]])


class BagGraph(nn.Module):
    """``NgramBag``: the mean (or sum) of the vectors of a text's words and hashed n-grams: (B, T) -> (B, D)."""

    def __init__(self, bag: NgramBag, rows: int) -> None:
        super().__init__()
        self.ngrams, self.buckets, self.rows = bag.ngrams, bag.buckets, rows
        self.mean = bag.bag.mode == "mean"
        self.register_buffer("table", trimmed_rows(bag.bag.weight.detach().float(), bag.num_words, rows))

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features = ngram_features(words, lengths, self.ngrams, max(self.buckets, 1), self.rows)
        total, count = bag_sum(self.table, features)
        return total / count.to(total.dtype) if self.mean else total  # (B, D); every text has a word


class RegressionGraph(nn.Module):
    """``NgramLogisticRegression``: the class scores of a text's words and hashed n-grams: (B, T) -> (B, K)."""

    def __init__(self, regression: NgramLogisticRegression, rows: int) -> None:
        super().__init__()
        self.ngrams, self.buckets, self.rows = regression.ngrams, regression.buckets, rows
        weights = (regression.weight * regression.scale).detach().float()  # as its forward computes them
        self.register_buffer("table", trimmed_rows(weights, regression.num_words, rows))
        self.bias = regression.bias

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features = ngram_features(words, lengths, self.ngrams, max(self.buckets, 1), self.rows)
        return bag_sum(self.table, features)[0] + self.bias  # (B, K)


class PooledRNNGraph(nn.Module):
    """``PooledRNN.forward`` with the lengths given rather than summed from the mask."""

    def __init__(self, encoder: PooledRNN) -> None:
        super().__init__()
        self.rnn, self.pooling, self.directions = encoder.rnn, encoder.pooling, encoder.directions
        self.output_dim = encoder.output_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        out, state = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H)
            h = h.reshape(-1, self.directions, B, h.size(-1))[-1]  # (dirs, B, H): the last layer
            return h.transpose(0, 1).reshape(B, self.output_dim)  # (B, dirs * H)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, dirs * H)
        return masked_pool(out, mask, self.pooling)  # (B, dirs * H)


class ClassifierNetwork(nn.Module):
    """(words, lengths) -> each label's probability (B, C), with the weights of a ``TextClassifier`` in eval mode
    and its first ``rows`` word rows."""

    def __init__(self, classifier, rows: int) -> None:
        super().__init__()
        embedder, encoder = classifier.embedder, classifier.encoder
        if embedder is not None and type(embedder) is not WordChannels:
            raise TextlabError(f"ONNX export: the embedder {type(embedder).__name__} cannot be exported (textlab "
                               "exports WordChannels)")
        self.register_buffer("words", channels_table(embedder)[:rows] if embedder is not None else torch.zeros(0))
        if type(encoder) is TextCNN:
            self.encoder = encoder
        elif type(encoder) is PooledRNN:
            self.encoder = PooledRNNGraph(encoder)
        elif type(encoder) is NgramBag:
            self.encoder = BagGraph(encoder, rows)
        else:
            raise TextlabError(f"ONNX export: the encoder {type(encoder).__name__} cannot be exported (textlab exports "
                               "TextCNN, PooledRNN and NgramBag)")
        self.output = classifier.output
        ensemble = classifier.ensemble
        if ensemble is not None and type(ensemble) is not NgramLogisticRegression:
            raise TextlabError(f"ONNX export: the ensemble {type(ensemble).__name__} cannot be exported (textlab "
                               "exports NgramLogisticRegression)")
        self.ensemble = RegressionGraph(ensemble, rows) if ensemble is not None else None

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = words.shape[1]
        mask = torch.arange(T, device=words.device)[None, :] < lengths[:, None]  # (B, T)
        if isinstance(self.encoder, BagGraph):
            h = self.encoder(words, lengths)  # (B, D)
        elif isinstance(self.encoder, PooledRNNGraph):
            h = self.encoder(nn.functional.embedding(words, self.words), mask, lengths)  # (B, D)
        else:
            h = self.encoder(nn.functional.embedding(words, self.words), mask)  # (B, D)
        log_probabilities = self.output(h).float().log_softmax(dim=-1)  # (B, C)
        if self.ensemble is not None:  # TextClassifier.forward: the mean of the two models' probabilities
            ensemble = self.ensemble(words, lengths).log_softmax(dim=-1)  # (B, C)
            log_probabilities = torch.logsumexp(torch.stack([log_probabilities, ensemble]), dim=0) - math.log(2.0)
        return log_probabilities.exp()  # (B, C)
