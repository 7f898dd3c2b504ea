"""Checkpoints written atomically on local and network file systems: a kill never leaves half a file.

Lightning's ``TorchCheckpointIO`` saves through ``lightning.fabric.utilities.cloud_io._atomic_save``, which
writes inside an fsspec transaction. For local paths fsspec's ``LocalFileOpener`` then writes to a file made
by ``tempfile.mkstemp()`` (the system temp dir, usually /tmp) and ``commit()`` ``shutil.move``s it onto the
target (fsspec/implementations/local.py). When /tmp and the checkpoint folder are different file systems
(local disk vs NFS or Lustre) that move is a copy into the target path, not a rename, and there is no
fsync: a kill during it leaves a truncated ``last.ckpt`` that ``--ckpt_path last`` would then pick up.

Here the temporary file sits next to the target, so ``os.replace`` is a rename within one directory:
readers see the old checkpoint or the new one, never part of one.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from textlab.checkpoint import taken_checkpoint
from textlab.legacy import upgrade_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves go to ``.{name}.tmp`` in the target's folder, are fsync'ed,
    then renamed onto the target. Remote paths (``s3://`` ...) keep Lightning's own handling.

    The temporary name is fixed (no pid): one left by a SIGKILL is overwritten by the next save instead of
    piling up. It never contains ``hpc_ckpt_``: Lightning numbers HPC checkpoints by the digits after that
    key in any file name holding it, so ``.hpc_ckpt_2.ckpt.tmp`` left by a kill would make ``--ckpt_path
    hpc`` (and SLURM's automatic resume) look for an ``hpc_ckpt_2.ckpt`` that was never written. Not ending
    in ``.ckpt``, it is never taken for ``last.ckpt`` either.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if "://" in str(path) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = os.path.abspath(path)
        folder, name = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, "." + name.replace("hpc_ckpt_", "hpc-ckpt-") + ".tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:  # KeyboardInterrupt too; only SIGKILL or a crash can leave a temporary file
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        _fsync_dir(folder)  # make the rename itself survive a crash of the machine

    def load_checkpoint(self, path: _PATH, map_location: Any | None = None, weights_only: bool | None = None
                        ) -> dict[str, Any]:
        """The copy ``textlab.checkpoint.read_checkpoint`` kept, if textlab read this file for the run already
        (`textlab predict/test --ckpt_path`: read once for every reader); else Lightning's own load. Either
        way an old checkpoint comes converted to the parts' form."""
        kept = taken_checkpoint(path)
        if kept is not None and (map_location is None or callable(map_location)):  # Lightning's default: stay on CPU
            return kept
        kwargs = {} if map_location is None else {"map_location": map_location}
        return upgrade_checkpoint(super().load_checkpoint(path, weights_only=weights_only, **kwargs), str(path))

def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

