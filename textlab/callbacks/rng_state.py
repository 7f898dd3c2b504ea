"""Random-number state saved with each checkpoint, so a resumed run draws what an uninterrupted one would.

``seed_everything`` fixes the random numbers of a whole run, but a run resumed from a checkpoint starts
from the seed again: its dropout masks differ from those the uninterrupted run would have drawn after
that epoch. This callback writes the global RNG states into the checkpoint (``checkpoint["textlab_rng"]``,
plain tensors, tuples and ints, so ``torch.load(weights_only=True)`` reads it) and puts them back when
training resumes.

When to put them back: just before the training DataLoader's iterator is created, because creating
it draws a base seed from the global torch generator, and in the uninterrupted run that draw is the
first one after the checkpoint was saved (at the end of an epoch). A resumed fit creates that iterator
early, in ``FitLoop.setup_data``, before ``on_train_epoch_start`` (states restored there would miss the
draw: one draw off, every dropout mask of the resumed run different). What runs before it after the
restore: the strategy's setup, ``on_fit_start`` and the sanity check, which Lightning runs inside
``isolate_rng()``. So the states are stashed by ``on_load_checkpoint`` and set in ``on_fit_start``, the
last callback hook before that iterator (or at once, for strategies that load checkpoints after
``on_fit_start``). Exact for end-of-epoch checkpoints such as ``last.ckpt``; a run resumed from a
mid-epoch checkpoint (SLURM's ``hpc_ckpt_N.ckpt``) continues correctly but not bit for bit, since a plain
DataLoader cannot resume in the middle of an epoch. The batch order does not use the global state:
``BucketBatchSampler`` derives it from (seed, epoch).

Under DDP only rank 0's states are saved and every rank gets them back. The ranks' states drift apart
during an epoch (their batches differ in shape, so dropout draws different amounts), so a resumed DDP
run is reproducible but not bit-identical to an uninterrupted one. Saving every rank's states would need
a collective inside checkpoint saving, which SLURM's signal-time checkpoint cannot risk.
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

KEY = "textlab_rng"


def collect_rng_states() -> dict[str, Any]:
    """The global RNG states as plain types: tensors, tuples, lists, ints, floats and None."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:
        return states
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    states["numpy"] = (name, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss))
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))  # a tuple even if a loader returns a list
    if "cuda" in states and torch.cuda.is_available():
        cuda = list(states["cuda"])
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    if "numpy" in states:
        import numpy as np

        name, keys, pos, has_gauss, gauss = states["numpy"]
        np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, gauss))


class RestoreRNGState(Callback):
    """Saves the global RNG states (torch, CUDA, Python, NumPy) in checkpoints and restores them on resume."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._fit_started = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._fit_started = False

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[KEY] = collect_rng_states()

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._pending = checkpoint.get(KEY)
        if self._fit_started:  # strategies that restore after their setup (DeepSpeed, FSDP) load this late
            self._restore()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_started = True
        self._restore()

    def _restore(self) -> None:
        if self._pending is not None:
            set_rng_states(self._pending)
            self._pending = None
