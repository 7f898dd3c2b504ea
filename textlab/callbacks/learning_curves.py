"""The learning curves of a fit: training loss and validation metrics by epoch, drawn when the fit ends.

Recorded by this callback rather than read back from the logger's files: a resumed fit logs into a new version
folder (Lightning's CSV logger would delete the old metrics.csv), a run may have no logger or one whose files
textlab cannot read (TensorBoard's need the tensorboard package), and the CSV holds the training loss every
``log_every_n_steps`` steps only. The history is the callback's state in every checkpoint, so a resumed fit
draws the whole run: the epochs before the checkpoint as they were, the ones after it as they are trained again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping

import torch
from lightning.pytorch import Callback
from lightning.pytorch.trainer.states import TrainerFn

FIGURE, HISTORY = "learning_curves.png", "learning_curves.json"


class LearningCurves(Callback):
    """One row per validation (and one at the end of an epoch that ends without one): ``epoch`` (epochs trained
    so far, fractional for a validation inside an epoch), ``step``, ``train/loss`` (the mean over the training
    batches since the previous row, over all processes) and every ``val/`` metric logged."""

    def __init__(self) -> None:
        self.history: list[dict] = []
        self._loss_sum: torch.Tensor | float = 0.0
        self._batches = 0  # since the last row
        self._epoch_batches = 0  # since the epoch started

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, torch.Tensor):  # a step that returned nothing (skipped batch, manual optimisation)
            return
        if pl_module.automatic_optimization:  # Lightning hands on the loss divided for gradient accumulation
            loss = loss * trainer.accumulate_grad_batches
        self._loss_sum = self._loss_sum + loss.detach().float()  # stays on the device: no sync every step
        self._batches += 1
        self._epoch_batches += 1

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        self._record(trainer, validated=True)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._batches:  # training batches after the epoch's last validation, or an epoch without one
            self._record(trainer, validated=False)

    def _record(self, trainer, validated: bool) -> None:
        total = trainer.num_training_batches
        done = min(1.0, self._epoch_batches / total) if total and math.isfinite(total) else 1.0
        row: dict = {"epoch": trainer.current_epoch + done, "step": trainer.global_step}
        if self._batches:
            # on every process, each with the same number of batches (textlab's samplers give even shards)
            mean = trainer.strategy.reduce(torch.as_tensor(self._loss_sum / self._batches), reduce_op="mean")
            row["train/loss"] = float(mean)
        if validated:
            row.update({name: float(value) for name, value in trainer.callback_metrics.items()
                        if name.startswith("val/") and isinstance(value, torch.Tensor) and value.numel() == 1})
        self.history.append(row)
        self._loss_sum, self._batches = 0.0, 0

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.fast_dev_run:  # a smoke test, which Lightning runs without loggers and checkpoints
            return
        # on every process (log_dir is broadcast); a logger may keep no folder
        folder = (trainer.log_dir if trainer.loggers else None) or trainer.default_root_dir
        if not trainer.is_global_zero or not self.history:
            return
        # matplotlib loads only when a fit ends
        from textlab.report.figures import learning_curves_figure, save_png
        from textlab.report.files import add_figures

        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, HISTORY), "w", encoding="utf-8") as f:
            json.dump(self.history, f, indent=1)
            f.write("\n")
        figure = learning_curves_figure(self.history, getattr(pl_module, "monitor", "val/f1"))
        save_png(figure, os.path.join(folder, FIGURE))
        add_figures(trainer.loggers, {"learning_curves": figure}, trainer.global_step)
