"""Peak memory of ``textlab predict`` on plain-text inputs of growing size: streaming keeps it flat.

Makes plain-text inputs of the given sizes (paragraphs of 1 to 6 sentences of the toy NER generator, or of a
--source text or CoNLL file's sentences, reshuffled and regrouped on every pass), runs

    /usr/bin/time -v textlab predict --ckpt_path CKPT --data.predict_file IN --output_format jsonl --output OUT

on each, and prints a table (input MB, sentences, peak RSS MB, wall s, sentences/s) and the peak RSS of the
largest input against the smallest's: the goal is at most 100 MB more for 200 MB of input than for 2 MB.

    python scripts/benchmark_predict_memory.py --ckpt CKPT --sizes-mb 2 200 --work-dir /tmp/textlab_predict_memory

Inputs are kept in --work-dir and reused by later runs of the same size and source.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# The goal: streaming prediction's peak memory grows by at most this much from the smallest input to the largest.
GOAL_MB = 100
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def source_sentences(source: Path | None, seed: int) -> Iterator[list[str]]:
    """Sentences (token lists) without end: the toy generator with a new seed each round, or ``source``'s
    sentences reshuffled each round."""
    from textlab.data.toy_ner import generate_toy_ner

    if source is None:
        for round_seed in itertools.count(seed):
            yield from (s.tokens for s in generate_toy_ner(seed=round_seed, num_train=20_000, num_val=0,
                                                           num_test=0)["train"])
    sentences = read_source(source)
    if not sentences:
        raise SystemExit(f"{source}: no sentences")
    rng = random.Random(seed)
    while True:
        rng.shuffle(sentences)
        yield from sentences


def read_source(source: Path) -> list[list[str]]:
    """A CoNLL file's sentences (its tokens), or a text file's non-blank lines (split on whitespace)."""
    from textlab.data.conll import SNIFF_LINES, looks_like_conll, read_conll
    from textlab.data.text_files import decoded_lines

    lines = decoded_lines(source, "utf-8")
    head = [text for _, text in itertools.islice(lines, SNIFF_LINES)]
    lines.close()
    if looks_like_conll(head):
        return [s.tokens for s in read_conll(source, require_tags=False)]
    return [line.split() for _, line in decoded_lines(source, "utf-8") if line.strip()]


def make_input(size_mb: float, work_dir: Path, source: Path | None, seed: int) -> Path:
    """A plain-text file of about ``size_mb`` MB: paragraphs of 1 to 6 sentences, a blank line between them."""
    key = hashlib.sha256(f"{source and source.resolve()}|{seed}".encode()).hexdigest()[:8]
    path = work_dir / f"input_{size_mb:g}MB_{key}.txt"
    if path.exists():
        return path
    work_dir.mkdir(parents=True, exist_ok=True)
    goal, written = int(size_mb * 1_000_000), 0
    rng = random.Random(seed)
    sentences = source_sentences(source, seed)
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as f:
        while written < goal:
            paragraph = " ".join(" ".join(next(sentences)) for _ in range(rng.randint(1, 6))) + "\n\n"
            f.write(paragraph)
            written += len(paragraph.encode("utf-8"))
    os.replace(partial, path)
    return path


def run_predict(ckpt: Path, input_path: Path, work_dir: Path, time_command: str) -> dict:
    """``textlab predict`` under ``/usr/bin/time -v``: its peak RSS, wall time and sentences tagged."""
    output = work_dir / (input_path.stem + ".out.jsonl")
    command = [time_command, "-v", sys.executable, "-m", "textlab", "predict", "--ckpt_path", str(ckpt),
               "--data.predict_file", str(input_path), "--output_format", "jsonl", "--output", str(output)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=work_dir,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"textlab predict failed on {input_path}:\n{proc.stderr[-3000:]}")
    found = _MAX_RSS.search(proc.stderr)
    if not found:
        raise SystemExit(f"{time_command} -v printed no 'Maximum resident set size': GNU time is needed")
    with open(output, "rb") as f:
        sentences = sum(1 for _ in f)
    output.unlink()
    return {"input_mb": input_path.stat().st_size / 1e6, "sentences": sentences,
            "peak_rss_mb": int(found.group(1)) / 1024, "wall_s": wall, "sentences_per_s": sentences / wall}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="a tagger checkpoint")
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[2, 200],
                        help="input sizes in MB, smallest first (default: 2 200)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/textlab_predict_memory"),
                        help="where the inputs and outputs go (default: %(default)s)")
    parser.add_argument("--source", type=Path, default=None,
                        help="a text (a sentence a line) or CoNLL file whose sentences make the inputs "
                             "(default: the toy NER generator)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sentences' order and paragraphs")
    parser.add_argument("--time-command", default="/usr/bin/time", help="GNU time (default: %(default)s)")
    opts = parser.parse_args(argv)

    results = []
    print(f"{'input MB':>9} {'sentences':>10} {'peak RSS MB':>12} {'wall s':>8} {'sentences/s':>12}")
    for size in sorted(opts.sizes_mb):
        path = make_input(size, opts.work_dir, opts.source, opts.seed)
        r = run_predict(opts.ckpt.resolve(), path, opts.work_dir, opts.time_command)
        results.append(r)
        print(f"{r['input_mb']:>9.3g} {r['sentences']:>10,} {r['peak_rss_mb']:>12.0f} {r['wall_s']:>8.1f} "
              f"{r['sentences_per_s']:>12,.0f}", flush=True)
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = last["peak_rss_mb"] - first["peak_rss_mb"]
        verdict = "within" if growth <= GOAL_MB else "over"
        print(f"peak RSS {growth:+.0f} MB from {first['input_mb']:.3g} MB to {last['input_mb']:.3g} MB of input: "
              f"{verdict} the goal of at most {GOAL_MB} MB more")
    return results


if __name__ == "__main__":
    main()
