"""The evaluation report of ``textlab test`` and ``validate``: written beside the run's logs, a short table printed.

Each test (or validate) batch is predicted once more with probabilities (``textlab.report.records``): the model's
test step keeps nothing but its metric's counts, and the entity probabilities need a pass over the tag lattice.
That is one more forward pass per batch (and for a tagger a forward-backward pass over the lattice); turn the
report off (``--report false``) where an evaluation must be as fast as it can be.
Under DDP every process evaluates its share of the data; the shares are gathered to the first process, which
builds the report from all of it once, as the metrics count every example once.
"""

from __future__ import annotations

import os

import torch.distributed as dist
from lightning.pytorch import Callback
from lightning.pytorch.trainer.states import TrainerFn

from textlab.errors import TextlabError
from textlab.report.records import evaluate_batch


class EvaluationReport(Callback):
    def __init__(self, output: str | None = None, worst: int = 10, bins: int = 10, data: str | None = None,
                 checkpoint: str | None = None, no_training_data: str | None = None) -> None:
        """
        Args:
            output: the folder to write into; by default ``<stage>_report`` in the run's log folder (beside the
                checkpoint when there is no logger).
            worst: how many of the worst sentences (a tagger's) or most confident mistakes (a classifier's) to list.
            bins: confidence bins of the reliability diagram and the calibration error.
            data: what was evaluated, for the report's header.
            checkpoint: the checkpoint evaluated, for the header, when the trainer was not given its path.
            no_training_data: what to say when the data module has no training data for seen and unseen entities
                (by default the data module's own message).
        """
        if worst < 0:
            raise TextlabError(f"worst must be 0 or more, not {worst}")
        if bins < 1:
            raise TextlabError(f"bins must be at least 1, not {bins}")
        self.output, self.worst, self.bins, self.data, self.checkpoint = output, worst, bins, data, checkpoint
        self.no_training_data = no_training_data
        self._records: list = []

    # -- collecting --------------------------------------------------------------------------------------

    def _reporting(self, trainer) -> bool:
        # validation inside fit is model selection, not an evaluation to report; a fast_dev_run is a smoke test,
        # which Lightning runs without loggers and checkpoints
        return (not trainer.sanity_checking and not trainer.fast_dev_run
                and trainer.state.fn in (TrainerFn.TESTING, TrainerFn.VALIDATING))

    def _collect(self, trainer, pl_module, batch) -> None:
        # under the trainer's precision, as the test step predicted (bf16 autocast gives other emissions)
        with trainer.precision_plugin.forward_context():
            self._records += evaluate_batch(pl_module, batch)

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._records = []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._records = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(trainer, pl_module, batch)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0):
        if self._reporting(trainer):
            self._collect(trainer, pl_module, batch)

    # -- reporting -----------------------------------------------------------------------------------------

    def on_test_end(self, trainer, pl_module) -> None:
        if self._reporting(trainer):
            self._finish(trainer, pl_module, "test")

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._reporting(trainer):
            self._finish(trainer, pl_module, "validate")

    def _folder(self, trainer, stage: str) -> str:
        if self.output:
            return self.output
        if trainer.loggers:
            where = trainer.log_dir or trainer.default_root_dir  # a logger may keep no folder
        else:
            where = os.path.dirname(trainer.ckpt_path) if trainer.ckpt_path else trainer.default_root_dir
        return os.path.join(where, f"{stage}_report")

    def _finish(self, trainer, pl_module, stage: str) -> None:
        records, self._records = _gathered(self._records), []
        folder = self._folder(trainer, stage)  # on every process: the log folder is broadcast from the first
        if not trainer.is_global_zero:
            return
        report = self._build(trainer, pl_module, records)
        data = self.data or _data_file(trainer.datamodule, "test" if stage == "test" else "val")
        report = {"stage": stage, "model": type(pl_module).__name__, "checkpoint": trainer.ckpt_path or self.checkpoint,
                  "data": data, **report}
        from textlab.report.console import print_summary
        from textlab.report.files import write_report

        write_report(folder, report, trainer.loggers, trainer.global_step)
        print_summary(report, folder)

    def _build(self, trainer, pl_module, records: list) -> dict:
        # the report's libraries (matplotlib, seqeval's tables) load only when a report is made
        from textlab.models import TextClassifier
        from textlab.report.classifier_report import classifier_report
        from textlab.report.tagger_report import tagger_report

        if isinstance(pl_module, TextClassifier):
            return classifier_report(records, pl_module.labels, self.worst, self.bins)
        training, note = self._training_entities(trainer.datamodule)
        return tagger_report(records, training, note, self.worst, self.bins)

    def _training_entities(self, datamodule) -> tuple[set | None, str]:
        """The training data's entities, for scores on seen and unseen ones; None and why when there is none."""
        from textlab.report.tagger_report import training_entities

        sentences = getattr(datamodule, "sentences", None)
        if sentences is None:
            return None, self.no_training_data or "the data module gives no training sentences"
        try:
            return training_entities(sentences("train")), ""
        except TextlabError as e:
            return None, self.no_training_data or f"no training data at hand ({e})"


def _data_file(datamodule, split: str) -> str | None:
    """The file the data module read ``split`` from, when it read one (not a generated or hub data set)."""
    files = getattr(datamodule, "files", None)
    return files.path(split) if files is not None else None


def _gathered(records: list) -> list:
    """Every process's records, on the first process (others get them too: ``all_gather_object``)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return records
    shares: list = [None] * dist.get_world_size()
    dist.all_gather_object(shares, records)
    return [record for share in shares for record in share]
