"""How many threads each process on this machine should use: the training processes (``CPUThreads``) and the
torch-free ``textlab.runtime`` (its onnxruntime threads) share the rule, so SLURM and OMP_NUM_THREADS hold for both.
"""

from __future__ import annotations

import os


def threads_per_process(processes: int) -> tuple[int, str]:
    """How many threads each of ``processes`` processes on this machine should use, and why."""
    if os.environ.get("SLURM_CPUS_PER_TASK"):  # SLURM already gives each task its own cores
        return int(os.environ["SLURM_CPUS_PER_TASK"]), "SLURM_CPUS_PER_TASK"
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // processes), f"{cores} cores / {processes} processes"
