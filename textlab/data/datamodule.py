"""What the tagging and classification data modules share: sharded, length-bucketed DataLoaders for training and
evaluation, and prediction input streamed in batches (``predict_stream``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from textlab.data.bucket_sampler import BucketBatchSampler
from textlab.data.hub import HubUnavailable
from textlab.data.predict_stream import PredictionBatches, ReadFailed
from textlab.data.text_files import STDIN, LineSource
from textlab.errors import TextlabError

log = logging.getLogger("textlab")


def check_predict_processes(predict_file: str | None, processes: int) -> None:
    """Standard input can be read by one process only: each of several would read a part of it."""
    if predict_file == STDIN and processes > 1:
        raise TextlabError(f"--data.predict_file -: standard input is read by one process, and this run starts "
                           f"{processes} (--trainer.devices, --trainer.num_nodes); give a file, or one device")


class TextDataModule(LightningDataModule):
    """Subclasses fill ``self.datasets[split]`` in ``setup`` and define ``collate``, ``lengths`` and
    ``_no_data_message``; they set ``predict_file`` and ``vocab_from``. For prediction, ``setup("predict")``
    opens the input (``_open_predict_input``) and the subclass reads it in ``_predict_examples`` and makes batches
    in ``_predict_batch``."""

    predict_file: str | None = None
    vocab_from: str | None = None
    _predict_source: LineSource | None = None  # the prediction input, opened by setup("predict")

    def __init__(self, batch_size: int, eval_batch_size: int, bucket: bool, num_workers: int) -> None:
        super().__init__()
        for name, size in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if size < 1:
                raise TextlabError(f"{name} must be at least 1, not {size}")
        if num_workers < 0:  # the DataLoader would refuse it only when the first batch is asked for
            raise TextlabError(f"num_workers must be 0 (load in the training process) or more, not {num_workers}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.bucket, self.num_workers = bucket, num_workers
        self.datasets: dict[str, Sequence] = {}

    def _no_data_message(self) -> str:
        raise NotImplementedError

    def _warn_overruled(self, saved: dict, options: list[tuple[str, object, object, str]]) -> None:
        """Warn about each option (as written, its value, its default, its key in the checkpoint's vocabulary)
        set away from its default to something else than the checkpoint was trained with: the checkpoint's
        value is used, since the model's ids only mean anything when text is read as in training."""
        for name, value, default, key in options:
            if value != default and key in saved and value != saved[key]:
                # as a config spells them: true, false, null
                shown = ["null" if v is None else str(v).lower() if isinstance(v, bool) else v
                         for v in (value, saved[key])]
                log.warning("--data.%s %s: ignored, the checkpoint %s was trained with %s %s and reads text that way",
                            name, shown[0], self.vocab_from, name.split(".")[-1], shown[1])

    def _from_hub(self, read, *args):
        """``read(*args)`` of the hub part; a dataset that cannot be loaded says what else was looked for."""
        try:
            return read(*args)
        except HubUnavailable as e:
            raise TextlabError(f"{self._no_data_message()} ({e})") from None

    def _open_predict_input(self, encoding: str) -> LineSource:
        """Open ``--data.predict_file`` (``-``: standard input), checked to exist, to be read in ``encoding``."""
        path = self.predict_file
        if not path:
            raise TextlabError("nothing to predict: give --data.predict_file FILE (- reads standard input)")
        if path != STDIN and not os.path.isfile(path):
            raise TextlabError(f"{path}: no such file (--data.predict_file)")
        trainer = self.trainer
        check_predict_processes(path, trainer.world_size if trainer is not None else 1)
        self._predict_source = LineSource(path, encoding)
        return self._predict_source

    def _log_once(self, message: str, *args) -> None:
        """``log.info`` by the first process only: every process reads the prediction input."""
        if self.trainer is None or self.trainer.is_global_zero:
            log.info(message, *args)

    def _predict_examples(self):
        """The examples to predict, read from the input's start as they are needed (after ``setup("predict")``)."""
        raise NotImplementedError

    def _predict_length(self, example) -> int:
        """An example's length in tokens, for the padding budget."""
        raise NotImplementedError

    def _predict_batch(self, examples: list):
        """Examples -> a batch for the model."""
        raise NotImplementedError

    def collate(self, examples: list):
        raise NotImplementedError

    def lengths(self, data: Sequence) -> list[int]:
        """Tokens per example, for length bucketing."""
        return [len(example.words) for example in data]

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        data = self.datasets[split]
        # One share per process; evaluation shards are not padded, so every example is counted once.
        trainer = self.trainer
        world, rank = (1, 0) if trainer is None else (trainer.world_size, trainer.global_rank)
        sampler = BucketBatchSampler(
            self.lengths(data),
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            bucket=self.bucket,
            # the run's seed (seed_everything, identical in every process) fixes each epoch's order
            seed=int(os.environ.get("PL_GLOBAL_SEED", 0)),
            num_replicas=world,
            rank=rank,
            even_shards=train,
        )
        return DataLoader(data, batch_sampler=sampler, collate_fn=self.collate, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """The prediction input, read as it is needed and batched in input order: batch k is predicted by process
        k % world (its writer puts the processes' outputs back in input order, see predict.py), and within a
        process its workers take turns (see predict_stream.py). Nothing of the input is held beyond the batches
        in flight."""
        trainer = self.trainer
        world, rank = (1, 0) if trainer is None else (trainer.world_size, trainer.global_rank)
        if self._predict_source is None:
            raise RuntimeError("predict_dataloader() before setup('predict')")
        workers = self.num_workers
        if workers and self._predict_source.is_stdin:
            # every worker would read its own part of it
            self._log_once("standard input is read in the main process (--data.num_workers %d not used)", workers)
            workers = 0
        batches = PredictionBatches(self._predict_examples, self._predict_length, self._predict_batch,
                                    self.eval_batch_size, rank, world)
        return DataLoader(batches, batch_size=None, num_workers=workers)

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, ReadFailed):  # a prediction input error met in a worker, in its place in the input
            raise TextlabError(batch.message)
        return batch
