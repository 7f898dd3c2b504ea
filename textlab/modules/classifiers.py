"""Sentence encoders for classification: one vector per text, (B, output_dim).

Blocks, bottom-up: ``masked_pool``; ``ChannelEmbedder`` (word vectors in Kim's four modes); ``TextCNN``
(Kim 2014); ``PooledRNN`` ((bi)LSTM/GRU pooled over the real tokens); ``hash_ngrams`` and
``BagEncoder`` (fastText-style EmbeddingBag over word ids and hashed word n-grams, with offsets);
``LinearNgramBag`` (class scores straight from the words and hashed n-grams, added to a network's, or a
logistic regression of its own whose probabilities are averaged with the network's).

Padding never changes a text's vector: TextCNN masks every window that holds no real token out of its
max, PooledRNN packs its input and pools over the real positions only, and BagEncoder sees no pads at
all. Every text has at least one token.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.modules.embedders import WordEmbedder

EmbeddingMode = Literal["rand", "static", "non-static", "multichannel"]
Pooling = Literal["max", "mean", "last"]
NGRAM_PRIME = 116049371  # fastText's multiplier for hashing word-id n-grams


def masked_pool(h: torch.Tensor, mask: torch.Tensor, how: Literal["max", "mean"]) -> torch.Tensor:
    """Max or mean over the positions where ``mask`` is True: (B, T, F), (B, T) -> (B, F)."""
    if how == "max":
        return h.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values  # (B, F)
    total = h.masked_fill(~mask[:, :, None], 0.0).sum(dim=1)  # (B, F)
    return total / mask.sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)  # (B, F)


@torch.no_grad()
def load_pretrained_rows(weight: torch.Tensor, matrix: np.ndarray, found: np.ndarray) -> None:
    """Copy the ``found`` rows of ``matrix`` into the first ``len(matrix)`` rows of ``weight``; redraw the
    others (except <pad>, id 0) uniformly with the pretrained vectors' variance, as Kim (2014) did, so
    random and pretrained rows are on one scale."""
    n, dim = matrix.shape
    if dim != weight.size(1):
        raise ValueError(
            f"pretrained vectors have dimension {dim}, the word embedding {weight.size(1)}: set word_dim to {dim}")
    if found.any():
        bound = float(np.sqrt(3.0 * matrix[found].var()))
        weight[1:n].uniform_(-bound, bound)
        rows = torch.from_numpy(np.flatnonzero(found))
        weight[rows] = torch.from_numpy(matrix[found]).to(weight.dtype)


class ChannelEmbedder(nn.Module):
    """Word ids (B, T) -> vectors (B, T, D) in Kim's modes: rand (random, trained), static (pretrained,
    frozen), non-static (pretrained, fine-tuned), multichannel (a frozen and a fine-tuned copy).

    Multichannel returns the sum of the two copies: a TextCNN that applies each filter to both channels
    and adds the results (one bias) computes exactly its filters applied to the sum, since convolution is
    linear; so only a linear first layer may use it.

    ``extra_dim`` > 0 concatenates a second, always trained word vector of that size to every token
    (flair's trainable OneHotEmbeddings stacked with pretrained WordEmbeddings). Small pretrained vectors
    (50d) leave the network little room to learn what the task needs; this part gives it that room while
    the pretrained part still places words never seen in training. It starts from zeros, so such a word
    (no gradient ever reaches it) stays its pretrained vector alone. In multichannel mode it belongs to
    the fine-tuned channel (the frozen channel is zero there).
    """

    def __init__(self, num_words: int, dim: int, mode: EmbeddingMode = "rand", extra_dim: int = 0) -> None:
        super().__init__()
        self.mode = mode
        self.words = WordEmbedder(num_words, dim)
        self.words.weight.requires_grad_(mode != "static")
        self.static = WordEmbedder(num_words, dim) if mode == "multichannel" else None
        if self.static is not None:
            self.static.weight.requires_grad_(False)
        self.extra = WordEmbedder(num_words, extra_dim) if extra_dim else None
        if self.extra is not None:
            # zeros, not noise: a word no training text contains (a test word added with the pretrained
            # ones, <unk>) never gets a gradient, and should be its pretrained vector alone
            nn.init.zeros_(self.extra.weight)
        self.output_dim = dim + extra_dim

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


class TextCNN(nn.Module):
    """Kim (2014): Conv1d filters of several widths over the token vectors, ReLU, max over time.

    (B, T, input_dim), mask (B, T) -> (B, filters * len(widths)). Each filter slides over the text with
    ``width - 1`` zero vectors on either side (Kim's padding), so a text shorter than the widest filter
    still has windows; windows holding no real token are left out of the max, so the result does not
    depend on how much the batch is padded.
    """

    def __init__(self, input_dim: int, filters: int = 100, widths: tuple[int, ...] = (3, 4, 5)) -> None:
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
    """(Bi)directional LSTM or GRU over packed sequences, pooled into one vector per text.

    (B, T, input_dim), lengths (B,) -> (B, hidden_size * directions). ``max``/``mean`` pool the last
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
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(
            input_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers only
        )
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden_size * self.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H), in batch order
            h = h.view(-1, self.directions, B, h.size(-1))[-1]  # (dirs, B, H): the last layer
            return h.transpose(0, 1).reshape(B, self.output_dim)  # (B, dirs * H)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, dirs * H)
        mask = torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]  # (B, T)
        return masked_pool(out, mask, self.pooling)  # (B, dirs * H)


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


class BagEncoder(nn.Module):
    """fastText-style (Joulin et al. 2017): the mean or sum of the vectors of a text's words and hashed
    word n-grams, by ``nn.EmbeddingBag`` with offsets: flat ids (N,), offsets (B,) -> (B, dim).

    Rows 0 .. num_words - 1 are the words (<pad> is never used), then ``buckets`` n-gram rows.
    ``sparse`` makes the bag's gradient sparse: train it with a sparse-capable optimiser (SparseAdam, SGD).
    """

    def __init__(
        self,
        num_words: int,
        dim: int,
        ngrams: int = 1,
        buckets: int = 200_000,
        mode: Literal["mean", "sum"] = "mean",
        sparse: bool = False,
    ) -> None:
        super().__init__()
        if ngrams < 1:
            raise ValueError("ngrams must be >= 1")
        if ngrams > 1 and buckets < 1:
            raise ValueError(f"hashed n-grams need buckets >= 1, got {buckets}")
        self.num_words, self.ngrams = num_words, ngrams
        self.buckets = buckets if ngrams > 1 else 0
        self.bag = nn.EmbeddingBag(num_words + self.buckets, dim, mode=mode, sparse=sparse)
        nn.init.uniform_(self.bag.weight, -1.0 / dim, 1.0 / dim)  # fastText's input-matrix init
        self.output_dim = dim

    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:
        load_pretrained_rows(self.bag.weight, matrix, found)

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        if self.ngrams > 1:
            flat, offsets = hash_ngrams(flat, offsets, self.ngrams, self.num_words, self.buckets)
        return self.bag(flat, offsets)  # (B, dim)


class LinearNgramBag(nn.Module):
    """A linear model over a text's words and hashed word n-grams: one score per class for each
    occurrence, summed over the text. flat ids (N,), offsets (B,) -> (B, num_classes).

    The weights start from zeros. ``scale`` (saved with them) multiplies each row's scores; it is 1
    unless ``fit_naive_bayes`` sets it to the naive-Bayes log-count ratios of the training texts
    (NBSVM, Wang & Manning 2012), so that features which separate the classes in the counts count
    for more from the start.

    ``bias`` adds one trained score per class: a model of its own (``fit_logistic_regression``) needs
    an intercept, a bag whose scores are added to a network's has the network's.
    """

    def __init__(self, num_words: int, num_classes: int, ngrams: int, buckets: int, bias: bool = False) -> None:
        super().__init__()
        if ngrams < 1:
            raise ValueError("ngrams must be >= 1")
        if ngrams > 1 and buckets < 1:
            raise ValueError(f"hashed n-grams need buckets >= 1, got {buckets}")
        self.num_words, self.ngrams = num_words, ngrams
        self.buckets = buckets if ngrams > 1 else 0
        rows = num_words + self.buckets
        self.weight = nn.Parameter(torch.zeros(rows, num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes)) if bias else None
        self.register_buffer("scale", torch.ones(rows, num_classes))

    def features(self, flat: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.ngrams > 1:
            return hash_ngrams(flat, offsets, self.ngrams, self.num_words, self.buckets)
        return flat, offsets

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self._scores(*self.features(flat, offsets))  # (B, K)

    def _scores(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Class scores from feature ids (M,) grouped per text by offsets (B,): (B, K)."""
        scores = F.embedding_bag(ids, self.weight * self.scale, offsets, mode="sum")  # (B, K)
        return scores if self.bias is None else scores + self.bias  # (B, K)

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
        bias = torch.zeros_like(self.weight[0]).requires_grad_(self.bias is not None)  # (K,)
        scale = self.scale[rows]  # (R, K)
        params = [weight, bias] if self.bias is not None else [weight]
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
            if self.bias is not None:
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
