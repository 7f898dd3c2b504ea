"""Prediction input as a stream of batches: read as it is needed, cut into batches in input order, and shared
out among processes (DDP) and DataLoader workers, so that memory holds a few batches whatever the input's size.

Batch ``k`` of the input (counted from 0, in input order) is predicted by process ``k % world``; within a
process its workers take its batches in turn. The DataLoader asks its workers in turn too (``in_order``, its
default), so each process gets its batches in input order, and the writer knows each one's place in the
input from its own count (``input_batch``): no batch carries its number.

Every process and every worker reads (and tokenises) the whole input, and encodes and collates its own
batches only. Sharding before tokenisation would save that reading, but a sentence's paragraph and sentence
numbers in its document are counts of the sentences before it, which only tokenising the text before it
gives; they must be the same as in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from torch.utils.data import IterableDataset, get_worker_info

# torch-free, as textlab.runtime batches with it too; re-exported for the existing imports
from textlab.data.prediction_batches import batches_in_order
from textlab.errors import TextlabError

Example = TypeVar("Example")


def input_batch(batch_idx: int, rank: int, world: int) -> int:
    """The place in the input of the ``batch_idx``-th batch process ``rank`` of ``world`` predicted."""
    return batch_idx * world + rank


@dataclass(frozen=True)
class ReadFailed:
    """A user error met in a DataLoader worker, sent to the main process as a batch: torch rebuilds an exception
    from a worker with its traceback in the message, which would no longer be one line. The data module raises it
    again as it arrives (``TextDataModule.on_before_batch_transfer``), after the batches before it."""

    message: str


class PredictionBatches(IterableDataset, Generic[Example]):
    """The batches of process ``rank`` of ``world`` (and of the DataLoader worker iterating it), in input order.

    Args:
        examples: reads the input from its start, one example at a time.
        length: an example's length in tokens (for the padding budget).
        make_batch: an example list -> the model's batch (encoded and collated).
        batch_size: examples a batch.
    """

    def __init__(self, examples: Callable[[], Iterable[Example]], length: Callable[[Example], int],
                 make_batch: Callable[[list[Example]], Any], batch_size: int, rank: int = 0, world: int = 1) -> None:
        super().__init__()
        self.examples, self.length, self.make_batch = examples, length, make_batch
        self.batch_size, self.rank, self.world = batch_size, rank, world

    def __iter__(self) -> Iterator[Any]:
        worker = get_worker_info()
        workers, worker_id = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        try:
            for k, batch in enumerate(batches_in_order(self.examples(), self.batch_size, self.length)):
                mine, turn = k % self.world == self.rank, (k // self.world) % workers == worker_id
                if mine and turn:
                    yield self.make_batch(batch)
        except TextlabError as e:
            if worker is None:
                raise
            yield ReadFailed(str(e))
