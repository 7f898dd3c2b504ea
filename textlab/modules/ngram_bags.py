"""Bags of words and hashed word n-grams: the fastText-style ``NgramBag`` encoder, and the
``NgramLogisticRegression`` that a classifier averages with its network (its ``ensemble`` part)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from textlab.modules.pretrained import PretrainedWords
from textlab.modules.word_channels import load_pretrained_rows

NGRAM_PRIME = 116049371  # fastText's multiplier for hashing word-id n-grams


def hash_ngrams(
    flat: torch.Tensor, offsets: torch.Tensor, ngrams: int, num_words: int, buckets: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Word ids plus hashed word n-grams (2 .. ``ngrams``) of each text, grouped per text.

    ``flat`` (N,) holds the texts' word ids one text after another, ``offsets`` (B,) where each starts.
    An n-gram of ids (a, b, ...) gets id ``num_words + hash(n, a, b, ...) % buckets``; n-grams never
    cross from one text into the next. Returns the new ``(ids (M,), offsets (B,))``.
    """
    N, B = flat.numel(), offsets.numel()
    lengths = torch.diff(offsets, append=offsets.new_tensor([N]))  # (B,)
    owner = torch.repeat_interleave(torch.arange(B, device=flat.device), lengths)  # (N,) text of each id
    ids, owners = [flat], [owner]
    for n in range(2, ngrams + 1):
        if N < n:
            break
        starts = torch.arange(N - n + 1, device=flat.device)  # (N - n + 1,)
        inside = owner[starts] == owner[starts + n - 1]  # the n-gram lies within one text
        h = torch.full_like(starts, n)
        for j in range(n):
            h = (h * NGRAM_PRIME + flat[starts + j]) % buckets  # < buckets * prime: no int64 overflow
        ids.append(num_words + h[inside])
        owners.append(owner[starts][inside])
    owner = torch.cat(owners)  # (M,)
    order = torch.argsort(owner, stable=True)  # words first, then bigrams, ... within each text
    counts = torch.bincount(owner, minlength=B)  # (B,)
    return torch.cat(ids)[order], torch.cumsum(counts, 0) - counts  # (M,), (B,)


class NgramBag(nn.Module, PretrainedWords):
    """fastText-style (Joulin et al. 2017): the mean or sum of the vectors of a text's words and hashed
    word n-grams, by ``nn.EmbeddingBag`` with offsets: flat ids (N,), offsets (B,) -> (B, dim).

    Rows 0 .. num_words - 1 are the words (<pad> is never used), then ``buckets`` n-gram rows.
    With ``sparse_optimizer`` the bag's gradient is sparse, and that optimiser trains it.
    """

    reads_ids = True  # the classifier has no embedder with this encoder: it reads word ids itself

    def __init__(
        self,
        num_words: int,
        dim: int = 100,
        ngrams: int = 1,
        buckets: int = 200_000,
        mode: Literal["mean", "sum"] = "mean",
        sparse_optimizer: OptimizerCallable | None = None,
        pretrained: str | None = None,
        normalize: bool = False,
    ) -> None:
        """
        Args:
            num_words: the word vocabulary's size (given by the model).
            dim: vector size of the words and n-grams.
            ngrams: also hash word n-grams up to this length (1: words only).
            buckets: hash buckets (rows) for the n-grams.
            mode: mean or sum of the vectors.
            sparse_optimizer: give the bag sparse gradients and train it with this optimiser (SparseAdam, or SGD
                without weight decay) while the model's ``optimizer`` trains the rest (Lightning's manual
                optimisation; no gradient clipping then); null: dense gradients, the model's optimiser.
            pretrained: word vectors to start the word rows from (a GloVe/word2vec text file or
                ``glove-6b-50d``), fine-tuned; null: random.
            normalize: scale each pretrained vector to length 1.
        """
        super().__init__()
        self.use_pretrained(pretrained, normalize)
        if ngrams < 1:
            raise ValueError("ngrams must be >= 1")
        if ngrams > 1 and buckets < 1:
            raise ValueError(f"hashed n-grams need buckets >= 1, got {buckets}")
        self.num_words, self.ngrams = num_words, ngrams
        self.buckets = buckets if ngrams > 1 else 0
        self.sparse_optimizer = sparse_optimizer
        self.bag = nn.EmbeddingBag(num_words + self.buckets, dim, mode=mode, sparse=sparse_optimizer is not None)
        nn.init.uniform_(self.bag.weight, -1.0 / dim, 1.0 / dim)  # fastText's input-matrix init
        self.output_dim = dim

    @property
    def word_dim(self) -> int:
        return self.bag.embedding_dim

    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:
        load_pretrained_rows(self.bag.weight, matrix, found)

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        if self.ngrams > 1:
            flat, offsets = hash_ngrams(flat, offsets, self.ngrams, self.num_words, self.buckets)
        return self.bag(flat, offsets)  # (B, dim)


class NgramLogisticRegression(nn.Module):
    """A logistic regression over a text's words and hashed word n-grams, fitted alone before the network
    trains and then frozen; the classifier predicts the mean of its probabilities and the network's (its
    ``ensemble`` part). flat ids (N,), offsets (B,) -> class scores (B, num_classes).

    ``fit(batches)`` is given the training texts: it sets ``scale`` (saved with the weights) to the
    naive-Bayes log-count ratios of the training texts when ``naive_bayes`` (NBSVM, Wang & Manning 2012),
    so that features which separate the classes in the counts count for more, then fits the weights and
    one intercept per class by L-BFGS. No random numbers are drawn.
    """

    def __init__(self, num_words: int, num_classes: int, ngrams: int = 3, buckets: int = 2_000_000,
                 naive_bayes: bool = True, l2: float = 1.0) -> None:
        """
        Args:
            num_words: the word vocabulary's size (given by the model).
            num_classes: the number of labels (given by the model).
            ngrams: words and hashed word n-grams up to this length.
            buckets: hash buckets (rows) for the n-grams.
            naive_bayes: weight each feature by its naive-Bayes log-count ratio (NBSVM); false: plain counts.
            l2: the L2 penalty, ``l2 / 2 * |w|^2`` beside the summed cross-entropy (scikit-learn's ``C = 1 / l2``).
        """
        super().__init__()
        if ngrams < 1:
            raise ValueError("ngrams must be >= 1")
        if ngrams > 1 and buckets < 1:
            raise ValueError(f"hashed n-grams need buckets >= 1, got {buckets}")
        if not (l2 > 0 and math.isfinite(l2)):
            raise ValueError(f"l2 must be > 0 (the logistic regression's L2 penalty), not {l2}")
        self.num_words, self.ngrams, self.naive_bayes, self.l2 = num_words, ngrams, naive_bayes, l2
        self.buckets = buckets if ngrams > 1 else 0
        rows = num_words + self.buckets
        self.weight = nn.Parameter(torch.zeros(rows, num_classes), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(num_classes), requires_grad=False)
        self.register_buffer("scale", torch.ones(rows, num_classes))
        # saved with the weights: a model loaded from a checkpoint needs no refit
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> float:
        """Fit on labelled batches of ``(flat ids, offsets, labels)``; returns the training accuracy."""
        if self.naive_bayes:
            self.fit_naive_bayes(batches)
        accuracy = self.fit_logistic_regression(batches, self.l2)
        self.fitted.fill_(True)
        return accuracy

    def features(self, flat: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.ngrams > 1:
            return hash_ngrams(flat, offsets, self.ngrams, self.num_words, self.buckets)
        return flat, offsets

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self._scores(*self.features(flat, offsets))  # (B, K)

    def _scores(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Class scores from feature ids (M,) grouped per text by offsets (B,): (B, K)."""
        scores = F.embedding_bag(ids, self.weight * self.scale, offsets, mode="sum")  # (B, K)
        return scores + self.bias  # (B, K)

    def fit_logistic_regression(self, batches, l2: float = 1.0, max_iter: int = 500) -> float:
        """Train the weights (and the bias) alone as an L2-regularised logistic regression (softmax over
        the classes) on labelled batches of ``(flat, offsets, labels)``; returns the training accuracy.

        It minimises ``sum of the texts' cross-entropies + l2 / 2 * |weight|^2`` (the bias is not
        penalised), scikit-learn's ``LogisticRegression(C=1 / l2)``, over every text at once with L-BFGS.
        The problem is convex, so the result depends on the texts alone: no random numbers are drawn.
        With ``scale`` set by ``fit_naive_bayes`` first this is NBSVM's logistic-regression form.

        Written here rather than taken from scikit-learn (not a dependency) so that the fit sees exactly
        the hashed features, scale and bias that ``forward`` uses, and its weights travel in the checkpoint.
        """
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        # the texts' features once: each L-BFGS step runs over all of them (a few hundred thousand ids for MR)
        parts = [(*self.features(flat, offsets), labels) for flat, offsets, labels in batches]
        ids = torch.cat([p[0] for p in parts])
        starts, shift = [], 0
        for part_ids, part_offsets, _ in parts:
            starts.append(part_offsets + shift)
            shift += part_ids.numel()
        offsets, labels = torch.cat(starts), torch.cat([p[2] for p in parts])
        # Only the rows some training text holds: the others get no gradient but the penalty's, so their optimum
        # is zero. L-BFGS keeps 2 x history_size copies of what it optimises: 640 MB for 2M hashed rows of 2 classes.
        rows, compact = torch.unique(ids, return_inverse=True)  # (R,), (M,)
        weight = torch.zeros(len(rows), self.weight.size(1), dtype=self.weight.dtype, requires_grad=True)  # (R, K)
        bias = torch.zeros_like(self.weight[0]).requires_grad_(True)  # (K,)
        scale = self.scale[rows]  # (R, K)
        params = [weight, bias]
        optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-6,
                                      tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

        def scores() -> torch.Tensor:
            return F.embedding_bag(compact, weight * scale, offsets, mode="sum") + bias  # (N, K)

        def objective() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(scores().double(), labels, reduction="sum") + 0.5 * l2 * weight.double().pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(objective)
        with torch.no_grad():
            self.weight.zero_()
            self.weight[rows] = weight
            self.bias.copy_(bias)
            return (scores().argmax(dim=1) == labels).double().mean().item()

    @torch.no_grad()
    def fit_naive_bayes(self, batches, alpha: float = 1.0) -> None:
        """Set ``scale`` from labelled batches of ``(flat, offsets, labels)``: for each row and class k,
        log(p_k / |p_k|) - log(q_k / |q_k|), where p_k counts the texts of class k that contain the
        feature and q_k those of the other classes, both plus ``alpha`` (Wang & Manning's r, one class
        against the rest)."""
        rows, K = self.scale.shape
        counts = torch.zeros(rows, K, dtype=torch.float64)
        for flat, offsets, labels in batches:
            ids, offsets = self.features(flat, offsets)
            lengths = torch.diff(offsets, append=offsets.new_tensor([ids.numel()]))
            owner = torch.repeat_interleave(torch.arange(len(offsets)), lengths)  # (M,) text of each feature
            present = torch.unique(owner * rows + ids)  # each feature once per text
            counts.index_put_((present % rows, labels[present // rows]), torch.ones(len(present), dtype=torch.float64),
                              accumulate=True)
        p = counts + alpha  # (rows, K)
        q = counts.sum(dim=1, keepdim=True) - counts + alpha  # the other classes' counts
        ratio = (p / p.sum(dim=0)).log() - (q / q.sum(dim=0)).log()
        self.scale.copy_(ratio.to(self.scale.dtype))
