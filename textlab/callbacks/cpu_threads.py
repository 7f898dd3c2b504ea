"""One share of the CPU cores per training process.

Each PyTorch process starts as many intra-op threads as the machine has cores. Several processes on
one machine (CPU DDP, or GPU DDP's data work) then fight over the cores, and OpenMP threads that
spin-wait make this far worse than a fair share: on 2 cores, two 2-thread processes ran ~50x slower
than one. Lightning's own process launchers set OMP_NUM_THREADS to such a share; this callback makes
the share hold under every launcher (SLURM's srun, torchrun), lets a config override it, and says in
the log what was chosen. DataLoader worker processes already run one thread each (PyTorch does that).
"""

from __future__ import annotations

import logging

import torch
from lightning.pytorch import Callback

from textlab.errors import TextlabError
# torch-free, as textlab.runtime sizes its onnxruntime threads with it too; re-exported for the existing imports
from textlab.thread_share import threads_per_process

__all__ = ["CPUThreads", "threads_per_process"]

log = logging.getLogger("textlab")


class CPUThreads(Callback):
    def __init__(self, per_process: int | None = None) -> None:
        """
        Args:
            per_process: threads for each training process; by default the machine's cores divided
                by the processes on it (or SLURM_CPUS_PER_TASK / OMP_NUM_THREADS when set).
        """
        # 0 would fall back to the default without a word, and a negative count fail inside torch at fit
        if per_process is not None and per_process < 1:
            raise TextlabError(f"--cpu_threads.per_process must be at least 1 (null: the cores divided by the "
                               f"processes), not {per_process}")
        self.per_process = per_process

    def setup(self, trainer, pl_module, stage: str) -> None:
        local_processes = max(1, trainer.num_devices)  # processes per node
        if self.per_process:
            threads, why = self.per_process, "cpu_threads.per_process"
        else:
            threads, why = threads_per_process(local_processes)
        torch.set_num_threads(threads)
        if trainer.is_global_zero:
            log.info("%d CPU thread(s) per process (%s)", threads, why)
