"""Reading textlab checkpoints without trusting them: plain tensors and containers only.

A checkpoint is Lightning's own format; textlab's model hyperparameters (including the vocabularies
as plain lists) sit under ``hyper_parameters``, so ``torch.load(weights_only=True)`` suffices.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from textlab.errors import TextlabError
from textlab.legacy import upgrade_checkpoint


def check_checkpoint_path(path: str | os.PathLike) -> None:
    if os.path.isdir(path):
        raise TextlabError(f"{path}: a folder, not a checkpoint file (a .ckpt under its checkpoints/ folder?)")
    if not os.path.isfile(path):
        raise TextlabError(f"{path}: no such checkpoint file")


# The last checkpoint read, kept for the next reader: `textlab predict --ckpt_path C` needs its hyperparameters
# (model class, options), its vocabularies (the data module) and its weights (Lightning, through
# AtomicCheckpointIO.load_checkpoint), and each used to load all 98 MB of the CoNLL model again.
_last: tuple[tuple, dict[str, Any]] | None = None


def _identity(path: str | os.PathLike) -> tuple:
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_mtime_ns, stat.st_size


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint at ``path`` (old ones converted, see ``textlab.legacy``), read once for all its readers."""
    global _last
    check_checkpoint_path(path)
    identity = _identity(path)
    if _last is None or _last[0] != identity:
        _last = (identity, upgrade_checkpoint(_load(path), str(path)))
    return _last[1]


def taken_checkpoint(path: str | os.PathLike) -> dict[str, Any] | None:
    """The kept copy of ``path``, handed over to the last reader (the one that loads the weights), or None."""
    global _last
    if _last is None or not os.path.isfile(path) or _last[0] != _identity(path):
        return None
    checkpoint, _last = _last[1], None
    return checkpoint


def _load(path: str | os.PathLike) -> dict[str, Any]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    # Bytes that are no checkpoint (a config given as --ckpt_path, a truncated file) fail inside torch's
    # unpickler with whatever error the bytes lead to: IndexError, KeyError, UnpicklingError, EOFError...
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if first.startswith("Weights only load failed"):  # torch's advice to load it unsafely is not ours to give
            first = "it holds Python objects other than tensors and plain containers, which textlab never loads"
        raise TextlabError(f"{path}: not a readable textlab checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("hyper_parameters"), dict):
        raise TextlabError(f"{path}: not a textlab checkpoint (no model hyperparameters inside)")
    return ckpt


def read_hparams(path: str | os.PathLike) -> dict[str, Any]:
    return read_checkpoint(path)["hyper_parameters"]


def check_weights_fit(model: torch.nn.Module, checkpoint: dict[str, Any], path: str | os.PathLike | None) -> None:
    """Refuse, in one line, a checkpoint whose weights do not fit ``model``: other model settings or vocabularies.

    Called from the models' ``on_load_checkpoint``, before Lightning loads the weights, whose own error is a
    RuntimeError listing every mismatched tensor (dozens of lines for a changed hidden size).
    """
    saved, wanted = checkpoint.get("state_dict", {}), model.state_dict()
    source = path or "the checkpoint"
    advice = "use the model settings and training data it was trained with"
    for name, tensor in wanted.items():
        if name not in saved:
            raise TextlabError(f"{source}: has no {name} for this model (other model settings?); {advice}")
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise TextlabError(f"{source}: {name} is {tuple(saved[name].shape)} there, {tuple(tensor.shape)} in the "
                               f"model these settings build; {advice}")
    extra = next((name for name in saved if name not in wanted), None)
    if extra is not None:
        raise TextlabError(f"{source}: holds {extra}, which this model has not (other model settings?); {advice}")
