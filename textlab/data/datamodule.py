"""What the tagging and classification data modules share: sharded, length-bucketed DataLoaders."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from textlab.data.bucket_sampler import BucketBatchSampler
from textlab.data.hub import HubUnavailable
from textlab.errors import TextlabError

log = logging.getLogger("textlab")


class TextDataModule(LightningDataModule):
    """Subclasses fill ``self.datasets[split]`` in ``setup`` and define ``collate``, ``lengths`` and
    ``_no_data_message``; they set ``predict_file`` and ``vocab_from``."""

    predict_file: str | None = None
    vocab_from: str | None = None

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

    def _predict_path(self) -> str:
        """``--data.predict_file``, checked to exist."""
        path = self.predict_file
        if not path:
            raise TextlabError("nothing to predict: give --data.predict_file FILE")
        if not os.path.isfile(path):
            raise TextlabError(f"{path}: no such file (--data.predict_file)")
        return path

    def collate(self, examples: list):
        raise NotImplementedError

    def lengths(self, data: Sequence) -> list[int]:
        """Tokens per example, for length bucketing."""
        return [len(example.words) for example in data]

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        data = self.datasets[split]
        # Prediction is not sharded and keeps the input order: every output line comes out once, in
        # input order (the writer writes on the first process only). Other splits: one share per process.
        trainer = self.trainer
        world, rank = (1, 0) if split == "predict" or trainer is None else (trainer.world_size, trainer.global_rank)
        sampler = BucketBatchSampler(
            self.lengths(data),
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            bucket=self.bucket and split != "predict",
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
        return self._loader("predict")
