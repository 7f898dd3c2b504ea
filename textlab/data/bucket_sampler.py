"""Length-bucketed batches that also shard the data across processes (DDP).

Why not Lightning's DistributedSampler: to give every process the same number of samples it pads
the last shard with repeated examples, so under DDP validation and test would count some sentences
twice (e.g. 101 sentences counted as 102 on 2 processes). Here training shards are padded (every
process must run the same number of steps, or the gradient all-reduce waits forever), evaluation
shards are not (metrics then sum exact counts; processes may differ by one batch, which is harmless
because evaluation has no per-step collective).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from torch.utils.data import Sampler

# torch-free, as textlab.runtime batches with them too; re-exported for the existing imports
from textlab.data.prediction_batches import MAX_PADDED_PER_EXAMPLE, within_padding_budget

__all__ = ["MAX_PADDED_PER_EXAMPLE", "BucketBatchSampler", "within_padding_budget"]


class BucketBatchSampler(Sampler[list[int]]):
    """Yields lists of indices for this process.

    Each epoch: permute all indices with (seed, epoch) (identical in every process), take this
    process's share, sort each pool of ``pool_factor`` batches by length (``bucket``), cut into
    batches, and shuffle the batch order. ``set_epoch`` is called by Lightning's loops.

    Without ``shuffle`` (evaluation, prediction) the batches are the same every epoch, and a batch that
    would hold more than ``batch_size * MAX_PADDED_PER_EXAMPLE`` positions, padding included, is cut
    into several (see there); training batches are never cut, so the number of steps stays fixed.
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool = True,
        bucket: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        even_shards: bool = True,
        pool_factor: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} processes")
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle, self.bucket = shuffle, bucket
        self.seed = seed
        self.num_replicas, self.rank, self.even_shards = num_replicas, rank, even_shards
        # Sorting within pools (not the whole set) keeps some randomness in which sentences meet,
        # while batches stay nearly free of padding.
        self.pool = batch_size * pool_factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> "BucketBatchSampler":
        # Lightning calls set_epoch on dataloader.sampler and dataloader.batch_sampler.sampler, never on
        # the batch sampler itself (lightning/fabric/utilities/data.py, _set_sampler_epoch)
        return self

    def shard(self) -> list[int]:
        """This process's indices for the current epoch."""
        order = list(range(len(self.lengths)))
        if self.shuffle:
            random.Random(self.seed * 100_003 + self.epoch).shuffle(order)
        if self.even_shards and order:
            short = -len(order) % self.num_replicas
            order += order[:short]  # repeat a few so every process gets the same count
        return order[self.rank :: self.num_replicas]

    def _batches(self) -> list[list[int]]:
        share = self.shard()
        batches = []
        for start in range(0, len(share), self.pool):
            pool = share[start : start + self.pool]
            if self.bucket:
                pool = sorted(pool, key=lambda i: self.lengths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        if not self.shuffle:
            batches = [part for b in batches for part in within_padding_budget(b, self.lengths, self.batch_size)]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random((self.seed * 100_003 + self.epoch) * 7 + self.rank)
        batches = self._batches()
        if self.shuffle:
            rng.shuffle(batches)
        # a generator: the order is drawn when iteration starts, after Lightning's set_epoch, not when
        # the DataLoader makes its iterator (which for the first epoch happens before set_epoch)
        yield from batches

    def __len__(self) -> int:
        if not self.shuffle:
            # the cuts depend on the lengths; Lightning stops after len() batches, so count them exactly
            return len(self._batches())
        n = len(self.lengths)
        share = -(-n // self.num_replicas) if self.even_shards else len(range(self.rank, n, self.num_replicas))
        pools, rest = divmod(share, self.pool)
        return pools * -(-self.pool // self.batch_size) + -(-rest // self.batch_size)
