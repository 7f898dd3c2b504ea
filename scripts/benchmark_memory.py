"""Peak memory per training process: corpus held as Python lists vs memory-mapped Arrow cache.

Generates synthetic CoNLL corpora (the toy NER generator, N training sentences), then for each
corpus size, data mode and process count runs the real ``textlab fit`` for a few steps and records
each process's peak RSS and its PSS (proportional set size: shared pages split between processes).

    python scripts/benchmark_memory.py --sizes 100000 1000000 --processes 1 2 --work-dir /tmp/textlab_mem

Modes: ``memory`` (default data module: every process reads and encodes the corpus into lists) and
``cache`` (``--data.files.cache_dir``: encoded once into Arrow files that every process memory-maps).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from lightning.pytorch import Callback

HERE = Path(__file__).resolve().parent


class PeakMemory(Callback):
    """Added to the benchmarked runs: each process writes its peak RSS and current PSS when training ends."""

    def on_train_end(self, trainer, pl_module):
        pss_kb = 0
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss_kb = int(line.split()[1])
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = Path(os.environ["TEXTLAB_MEMORY_DIR"]) / f"rank{trainer.global_rank}.json"
        out.write_text(json.dumps({"peak_rss_mb": peak_kb / 1024, "pss_mb": pss_kb / 1024}))


def make_corpus(size: int, root: Path) -> Path:
    from textlab.data.toy_ner import generate_toy_ner, write_conll

    folder = root / f"corpus_{size}"
    if not (folder / "train.txt").exists():
        toy = generate_toy_ner(seed=11, num_train=size, num_val=1000, num_test=10)
        write_conll(toy["val"], folder / "valid.txt")
        write_conll(toy["train"], folder / "train.part")
        os.replace(folder / "train.part", folder / "train.txt")
    return folder


def run(corpus: Path, mode: str, processes: int, root: Path, steps: int) -> dict:
    probe = root / f"probe_{corpus.name}_{mode}_{processes}"
    probe.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable, "-m", "textlab", "fit",
        "--model", "textlab.models.SequenceTagger", "--model.init_args.words.init_args.dim", "50",
        "--model.init_args.encoder.init_args.hidden_size", "100",
        "--data", "textlab.data.TaggingDataModule", "--data.init_args.files.data_dir", str(corpus),
        "--data.init_args.batch_size", "32",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(steps),
        "--trainer.limit_val_batches", "5", "--trainer.enable_checkpointing", "false",
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--test_after_fit", "false",
        "--trainer.default_root_dir", str(probe),  # fit saves its config.yaml there, not where the script was started
        "--trainer.accelerator", "cpu", "--trainer.devices", str(processes),
        "--trainer.callbacks+=benchmark_memory.PeakMemory",
    ]
    if processes > 1:
        args += ["--trainer.strategy", "ddp"]
    if mode == "cache":
        args += ["--data.init_args.files.cache_dir", str(root / "cache")]
    env = {**os.environ, "TEXTLAB_MEMORY_DIR": str(probe), "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({corpus.name}, {mode}, {processes}):\n{proc.stderr[-3000:]}")
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in range(processes)]
    return {"peak_rss_mb": [round(r["peak_rss_mb"]) for r in ranks], "pss_mb": [round(r["pss_mb"]) for r in ranks],
            "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="training sentences of each generated corpus (default: 100000 1000000)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="training processes (DDP on the CPU when more than 1; default: 1 2)")
    parser.add_argument("--modes", nargs="+", default=["cache", "memory"], choices=["cache", "memory"])
    parser.add_argument("--steps", type=int, default=20, help="training steps per run")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/textlab_memory_benchmark"),
                        help="where the corpora, caches and per-run folders go (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    opts = parser.parse_args()

    results = []
    print(f"{'sentences':>10} {'mode':>6} {'procs':>5} {'peak RSS MB per process':>24} {'PSS MB per process':>20} {'wall s':>7}")
    for size in opts.sizes:
        corpus = make_corpus(size, opts.work_dir)
        for mode in opts.modes:
            for processes in opts.processes:
                r = run(corpus, mode, processes, opts.work_dir, opts.steps)
                results.append({"sentences": size, "mode": mode, "processes": processes, **r})
                print(f"{size:>10} {mode:>6} {processes:>5} {str(r['peak_rss_mb']):>24} {str(r['pss_mb']):>20} "
                      f"{r['wall_s']:>7}", flush=True)
    if opts.out:
        opts.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
