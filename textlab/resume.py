"""Resuming a fit: which last.ckpt ``--ckpt_path last`` means, and where the resumed run's checkpoints go."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("textlab")


def newest_last_checkpoint(root: str) -> str | None:
    """``--ckpt_path last``: the newest last.ckpt of an earlier run under ``root``.

    Lightning itself looks for "last" only in the new run's own version folder, which a new run has
    just created empty, so it would silently train from scratch.
    """
    # The run's own layout only (LOGGER_NAME/VERSION/checkpoints/, or checkpoints/ with a pinned logger folder), not
    # any last.ckpt below: with the working folder as the root, that would resume some other config's run.
    candidates = [*Path(root).glob("*/*/checkpoints/last.ckpt"), *Path(root).glob("checkpoints/last.ckpt")]
    found = sorted(candidates, key=lambda p: p.stat().st_mtime)
    if not found:
        log.info("--ckpt_path last: no last.ckpt under %s, training from scratch", root)
        return None
    log.info("--ckpt_path last: resuming from %s", found[-1])
    return str(found[-1])


def checkpoint_into_the_resumed_folder(trainer, ckpt_path: str | None) -> None:
    """A fit resumed from a checkpoint of an earlier run under the same root goes on saving next to it.

    The resumed run logs into a new ``version_N`` folder, and ModelCheckpoint, saving into that folder's
    ``checkpoints/``, would restore its best score and path only from a checkpoint saved in the same folder
    (else it warns that "the dirpath has changed"): it would forget the best epoch before the restart and
    test a worse one at the end, while EarlyStopping, whose state always comes back, counts from the old
    best. So the checkpoints stay in the folder they were in. The logs still start a new version: Lightning's
    CSV logger deletes the metrics.csv of a folder it logs into again.
    """
    if not ckpt_path or not os.path.isfile(ckpt_path):
        return
    folder = Path(ckpt_path).resolve().parent
    # ModelCheckpoint's own folder under this run's root (hpc_ckpt_N.ckpt sit one level up, in the version folder)
    if folder.name != "checkpoints" or Path(trainer.default_root_dir).resolve() not in folder.parents:
        return  # a checkpoint from elsewhere: the new run saves in its own folder, as usual
    for callback in trainer.checkpoint_callbacks:
        if callback.dirpath is None:  # where the config names a folder, it stays
            callback.dirpath = str(folder)
    log.info("resumed run: checkpoints go on in %s", folder)
