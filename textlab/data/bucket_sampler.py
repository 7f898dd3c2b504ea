"""Length-bucketed batches: sentences of similar length share a batch, so little compute goes to padding."""

from __future__ import annotations

import random
from collections.abc import Iterator

from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Yields lists of indices. Each epoch: shuffle, sort within large pools by length, cut into batches,
    shuffle the batch order. ``set_epoch`` (called by Lightning) makes every epoch's order a function of
    ``seed`` and the epoch alone, so runs are reproducible and resumable.
    """

    def __init__(
        self, lengths: list[int], batch_size: int, shuffle: bool = True, seed: int = 0, pool_factor: int = 50
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        # Sorting within pools of pool_factor batches (not the whole set) keeps some randomness in which
        # sentences meet, while batches stay nearly free of padding.
        self.pool = batch_size * pool_factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 100_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(order)
        batches = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start : start + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        pools, rest = divmod(len(self.lengths), self.pool)
        per_pool = -(-self.pool // self.batch_size)
        return pools * per_pool + -(-rest // self.batch_size)
