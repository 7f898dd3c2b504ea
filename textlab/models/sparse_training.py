"""Training an ``NgramBag`` with sparse gradients: its own optimiser beside the model's, stepped by hand.

Lightning steps several optimisers only under manual optimisation, so a classifier whose bag has a
``sparse_optimizer`` steps both itself, and its learning-rate schedules too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from textlab.errors import TextlabError
from textlab.optim import build


class SparseBagTraining:
    """Mixin for the classifier (a ``TextModel``): manual optimisation when its encoder has a sparse bag."""

    def setup_sparse_training(self) -> None:
        self.automatic_optimization = getattr(self.encoder, "sparse_optimizer", None) is None

    def step_sparse(self, loss: torch.Tensor) -> None:
        if self.automatic_optimization:
            return
        optimizers = self.optimizers()
        for opt in optimizers:
            opt.zero_grad()
        self.manual_backward(loss)
        for opt in optimizers:
            opt.step()

    def configure_optimizers(self) -> Any:
        if self.automatic_optimization:
            return super().configure_optimizers()
        bag = self.encoder.bag.weight
        params = [p for p in self.parameters() if p.requires_grad and p is not bag]
        sparse = self.encoder.sparse_optimizer
        _check_takes_sparse_gradients(sparse)
        return self._with_schedule([build(self.optimizer, params, "optimizer"), build(sparse, [bag], "sparse_optimizer")])

    def on_train_epoch_end(self) -> None:
        if self.lr_scheduler is None:
            return
        schedulers = self.lr_schedulers()
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        metric = self.trainer.callback_metrics.get(self.monitor)
        if metric is None and any(isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) for s in schedulers):
            # Runs before Lightning steps the schedules of automatic optimisation, which would stop with a
            # longer message; the manual steps below would fail on the missing metric.
            raise TextlabError(
                f"lr_scheduler ReduceLROnPlateau steps on {self.monitor}, and epoch {self.current_epoch} measured "
                "none: validate every epoch (validation data, --trainer.check_val_every_n_epoch 1) or use another "
                "schedule")
        if self.automatic_optimization:
            return
        for scheduler in schedulers:  # manual optimisation steps its schedules itself
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(metric)
            else:
                scheduler.step()


def _check_takes_sparse_gradients(sparse_optimizer) -> None:
    """Adam, AdamW, Adadelta or SGD with weight decay stop at the bag's first step with a traceback: try the
    configured optimiser on a throwaway sparse gradient now (no random numbers drawn, the model untouched)."""
    probe = nn.Parameter(torch.zeros(2, 1))
    probe.grad = torch.sparse_coo_tensor([[0]], [[1.0]], (2, 1), check_invariants=True)
    optimizer = build(sparse_optimizer, [probe], "sparse_optimizer")
    try:
        optimizer.step()
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise TextlabError(f"sparse_optimizer {type(optimizer).__name__} cannot train the bag's sparse gradients "
                           f"({reason}): use torch.optim.SparseAdam, or no sparse_optimizer (dense gradients)") from None
