"""Reading textlab checkpoints without trusting them: plain tensors and containers only.

A checkpoint is Lightning's own format; textlab's model hyperparameters (including the vocabularies
as plain lists) sit under ``hyper_parameters``, so ``torch.load(weights_only=True)`` suffices.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from textlab.errors import TextlabError


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    if os.path.isdir(path):
        raise TextlabError(f"{path}: a folder, not a checkpoint file (a .ckpt under its checkpoints/ folder?)")
    if not os.path.isfile(path):
        raise TextlabError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    # Bytes that are no checkpoint (a config given as --ckpt_path, a truncated file) fail inside torch's
    # unpickler with whatever error the bytes lead to: IndexError, KeyError, UnpicklingError, EOFError...
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextlabError(f"{path}: not a readable textlab checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("hyper_parameters"), dict):
        raise TextlabError(f"{path}: not a textlab checkpoint (no model hyperparameters inside)")
    return ckpt


def read_hparams(path: str | os.PathLike) -> dict[str, Any]:
    return read_checkpoint(path)["hyper_parameters"]
