"""How fast ``textlab predict`` goes, on a terminal: a line on stderr rewritten in place as batches are predicted,

    textlab: 12,480 sentences, 2,310 sentences/s

and at the end

    textlab: tagged 12,480 sentences in 5.4 s (2,310 sentences/s)

Nothing when stderr is not a terminal (a log file, a pipe), where rewritten lines would only pile up.

Not Lightning's progress bar: it counts batches, and a streamed input does not say how many it holds, and it
writes to stdout, which carries the predictions.
"""

from __future__ import annotations

import sys
import time

import torch
from lightning.pytorch import Callback

# Seconds at least between two rewrites of the line: more often would only flicker.
REWRITE_INTERVAL = 0.5


class Throughput(Callback):
    """Counts predicted sentences (a tagger) or texts (a classifier) and shows the count and the rate on stderr.

    Args:
        progress: rewrite the line while predicting; False: the final line only (predictions written to the same
            terminal would run into a line rewritten in place).
    """

    def __init__(self, progress: bool = True) -> None:
        super().__init__()
        self.progress = progress
        self._shown = False  # stderr is a terminal, and this process shows the line
        self._open_line = 0  # characters of a progress line not yet ended by a line break
        self._start = self._last = 0.0
        self.count = 0

    def on_predict_start(self, trainer, pl_module) -> None:
        self._shown = trainer.is_global_zero and sys.stderr.isatty()
        self._start = self._last = time.monotonic()
        self.count = 0
        self._unit = "sentences" if getattr(getattr(pl_module, "vocab", None), "tag_scheme", None) else "texts"
        self._world = trainer.world_size

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.count += len(outputs)
        if not (self._shown and self.progress):
            return
        now = time.monotonic()
        if now - self._last < REWRITE_INTERVAL:
            return
        self._last = now
        # several processes: this one's share, the others' are counted at the end
        share = f" (this process of {self._world})" if self._world > 1 else ""
        self._write(f"{self.count:,} {self._unit}{share}, {self._rate(self.count, now):,.0f} {self._unit}/s")

    def on_predict_end(self, trainer, pl_module) -> None:
        total = self.count
        if self._world > 1:  # a collective: every process takes part, shown or not
            total = int(trainer.strategy.reduce(torch.tensor(total, device=pl_module.device), reduce_op="sum"))
        if not self._shown:
            return
        now = time.monotonic()
        verb = "tagged" if self._unit == "sentences" else "classified"
        self._write(f"{verb} {total:,} {self._unit} in {now - self._start:.1f} s "
                    f"({self._rate(total, now):,.0f} {self._unit}/s)", end=True)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self._open_line:  # the error's line must not start on the progress line
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._open_line = 0

    def _rate(self, count: int, now: float) -> float:
        return count / max(now - self._start, 1e-9)

    def _write(self, line: str, end: bool = False) -> None:
        """``textlab: <line>`` over the line shown before (padded to its length), ended by a line break if ``end``."""
        text = "textlab: " + line
        sys.stderr.write("\r" + text.ljust(self._open_line) + ("\n" if end else ""))
        sys.stderr.flush()
        self._open_line = 0 if end else len(text)
