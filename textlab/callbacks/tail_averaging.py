"""Stochastic weight averaging over the last part of training, validated and checkpointed as the model."""

from __future__ import annotations

import logging

from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

from textlab.errors import TextlabError

log = logging.getLogger("textlab")


class TailWeightAveraging(WeightAveraging):
    """The equal average of the weights taken every ``every_n_steps`` optimiser steps from epoch
    ``start_epoch`` on (SWA, Izmailov et al. 2018, on the run's own learning-rate schedule).

    Once the average holds a snapshot, validation, the checkpoints (and so the dev-selected one) and the
    model left after training are the average; the checkpoints also keep the current weights, so a run
    resumes exactly. Lightning's ``WeightAveraging`` alone validates and checkpoints its averaged copy
    from the first epoch; before the first update that copy still holds the initial weights, so every
    epoch before the start would score as an untrained model and EarlyStopping would end the run. Here
    the current weights stand in until the average has begun.

    Only parameters are averaged: the taggers' buffers (pretrained-only word vectors, constraint masks)
    never change in training.
    """

    def __init__(self, start_epoch: int = 30, every_n_steps: int = 100) -> None:
        """
        Args:
            start_epoch: the first epoch (0-based) whose weights enter the average.
            every_n_steps: the average takes the weights after every this many optimiser steps.
        """
        if start_epoch < 0 or every_n_steps < 1:
            raise TextlabError(f"TailWeightAveraging needs start_epoch >= 0 and every_n_steps >= 1, "
                               f"got {start_epoch} and {every_n_steps}")
        super().__init__(use_buffers=False)
        self.start_epoch = start_epoch
        self.every_n_steps = every_n_steps
        self._epoch = 0

    def setup(self, trainer, pl_module, stage: str) -> None:
        last = trainer.max_epochs
        if stage == "fit" and last is not None and last >= 0 and self.start_epoch >= last:
            # not an error: a short trial run of a long recipe meets it, and a resumed run may go on past it
            log.warning("TailWeightAveraging: start_epoch %d (counted from 0) comes after the last epoch of "
                        "--trainer.max_epochs %d: nothing is averaged, and the run validates and keeps its own weights",
                        self.start_epoch, last)
        super().setup(trainer, pl_module, stage)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch = trainer.current_epoch

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        if step_idx is None:  # the epoch ends: the last steps of the epoch are in already
            return False
        return self._epoch >= self.start_epoch and (step_idx + 1) % self.every_n_steps == 0

    def _begun(self) -> bool:
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if self._begun():
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._begun():
            super().on_validation_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._begun():
            super().on_train_end(trainer, pl_module)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if self._begun():
            super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        # A checkpoint saved before the average began holds only the current weights: the average starts afresh.
        # Outside fit the checkpoint's state_dict, the average, is the model: also when fit tests its best
        # checkpoint at the end, where Lightning's callback (still holding its average) would load the current
        # weights instead, and the test would score another model than the one the checkpoint gives.
        resuming = trainer.state.fn == TrainerFn.FITTING
        if resuming and self._average_model is not None and "averaging_state" in checkpoint:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
