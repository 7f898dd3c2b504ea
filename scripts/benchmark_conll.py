"""CoNLL-2003 English NER: the BiLSTM-CRF recipe and its ablations, over seeds, through `textlab`.

    python scripts/benchmark_conll.py --data-dir ../shared/data/conll2003 [--seeds 3]
        [--variants char-cnn,no-chars,...] [--jobs 2] [--out runs/benchmark_conll]

Every run is the commands a user types, each in its own process:

1. ``textlab fit --config configs/ner_bilstm_crf.yaml --data.files.data_dir D --seed_everything S`` plus the
   variant's overrides (a variant config, e.g. ``configs/ner_char_lstm.yaml``, stacked with a second
   ``--config``). The ModelCheckpoint in the config keeps the epoch with the best dev F1.
2. ``textlab test --ckpt_path BEST`` reloads that checkpoint in a fresh process; its test/f1 is the
   number reported.
3. ``textlab predict --ckpt_path BEST --data.predict_file D/test.txt`` writes the tags, which are
   scored against the gold file with seqeval (IOB2, conlleval's span rule) as an independent check of
   the project's metric; the run fails if the two disagree.

The table (variant, seed, epochs, best epoch, dev F1, test F1, wall time; then mean +- std per
variant) is printed and written as results.md and results.json under --out. Results are saved after
each run and a rerun with the same --out skips the runs already done. ``--extend --max-epochs M``
instead continues the runs that trained fewer than M epochs from their last.ckpt (Lightning restores
the optimiser, the lr schedule and the epoch count, so this equals an M-epoch run) and picks the best
dev epoch over both parts. ``--jobs N`` runs N trainings at a time with cores/N threads each (wall
times are then those of a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_name import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "ner_bilstm_crf.yaml"
M = "--model.init_args."
D = "--data.init_args."
T = "--trainer."
# name -> (what it changes, `textlab fit` overrides); "char-cnn" is the config as shipped. The variants whose
# results the README reports; the recipes of options since removed, and their results, are in
# docs/conll2003_experiments.md (and this script's git history).
VARIANTS = {
    "char-cnn": ("the config: GloVe 50d, char-CNN, BIOES, constrained Viterbi, entities under probability 0.5 "
                 "dropped", []),
    "no-chars": ("no character features", [M + "chars", "null"]),
    "char-lstm": ("char-BiLSTM (25 per direction) instead of the char-CNN",
                  ["--config", str(ROOT / "configs" / "ner_char_lstm.yaml")]),
    "both": ("char-CNN and char-BiLSTM side by side", ["--config", str(ROOT / "configs" / "ner_char_both.yaml")]),
    "iob2": ("IOB2 tags instead of BIOES", [D + "tag_scheme", "IOB2"]),
    "random-words": ("random-init word vectors, training words only",
                     [M + "words.init_args.pretrained", "null", D + "words.add_pretrained_words", "null"]),
    "min-entity-0": ("every decoded entity kept (no minimum probability), as before the config dropped those "
                     "under 0.5", [M + "decoder.init_args.min_entity_probability", "0"]),
    # EarlyStopping's patience raised past max_epochs (it is the config's last callback): its val/f1 is then
    # measured on training sentences, so every run trains the fixed number of epochs.
    "train-with-dev": ("trained on train.txt and valid.txt together for the config's epochs, as Chiu & Nichols "
                       "(2016) and flair's train_with_dev do; the last epoch is tested (dev no longer selects)",
                       [D + "train_with_dev", "true", T + "callbacks.patience=1000"]),
}
# Published test F1 (conlleval) for the README's comparison.
REFERENCES = {
    "NCRF++ char-CNN + word-LSTM + CRF, GloVe 100d (Yang & Zhang 2018)": 91.35,
    "NCRF++ char-LSTM, GloVe 100d": 91.20,
    "NCRF++ no chars, GloVe 100d": 89.45,
    "Ma & Hovy 2016, GloVe 100d": 91.21,
    "Lample et al. 2016": 90.94,
}
# Variants that train on the dev set: their last epoch is tested, and their dev F1 (a training score) is not shown.
LAST_EPOCH = {"train-with-dev"}
_print_lock = threading.Lock()


def say(message: str) -> None:
    with _print_lock:
        print(f"benchmark_conll: {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data/conll2003", help="folder with train.txt, valid.txt, test.txt")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N for each variant")
    parser.add_argument("--seed-list", default=None, help="explicit seeds, e.g. 1,2,3 (overrides --seeds)")
    parser.add_argument("--variants", default="char-cnn", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--ablation-seeds", type=int, default=None,
                        help="seeds for variants other than char-cnn (default: the same as char-cnn)")
    parser.add_argument("--config", default=str(CONFIG), help="the recipe (default configs/ner_bilstm_crf.yaml)")
    parser.add_argument("--max-epochs", type=int, default=None, help="override the config's trainer.max_epochs")
    parser.add_argument("--extend", action="store_true",
                        help="continue finished runs with fewer than --max-epochs epochs from their last.ckpt")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at a time")
    parser.add_argument("--threads", type=int, default=None, help="threads per training (default: cores / jobs)")
    parser.add_argument("--textlab-args", default="", help="more `textlab fit` arguments for every run")
    parser.add_argument("--out", default="runs/benchmark_conll", help="folder for runs, results.json and results.md")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    try:
        args.seed_list = [int(s) for s in args.seed_list.split(",")] if args.seed_list else list(range(1, args.seeds + 1))
    except ValueError:
        parser.error(f"--seed-list {args.seed_list}: expected seeds separated by commas, e.g. 1,2,3")
    for name in ("seeds", "jobs", "threads", "max_epochs", "ablation_seeds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} {value}: at least 1")
    if args.extend and not args.max_epochs:
        parser.error("--extend needs --max-epochs")
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // args.jobs)
    return args


class RunFailed(RuntimeError):
    """A run failed or was stopped; main() reports it in one line and exits non-zero."""


def textlab(*argv: str, log_file: Path) -> str:
    """Run ``textlab ARGV`` in a fresh process; its output goes to ``log_file`` and is returned."""
    proc = subprocess.run([sys.executable, "-m", "textlab.cli", *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log_file.write_text(f"$ textlab {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode in (143, -signal.SIGTERM):  # textlab exits 143 on SIGTERM, after saving what it can
        raise RunFailed(f"textlab {argv[0]} was stopped (SIGTERM); see {log_file}")
    if proc.returncode:
        # textlab's own errors are one line, the last it writes
        last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
        raise RunFailed(f"textlab {argv[0]} failed (exit {proc.returncode}): {last.strip()}; see {log_file}")
    return proc.stdout + proc.stderr


def metric_from_table(output: str, name: str) -> float:
    match = re.search(rf"{re.escape(name)}\s+[│|]?\s*([0-9.]+)", output)
    if not match:
        raise RunFailed(f"no {name} in the output of textlab test")
    return float(match.group(1))


def newest_last_checkpoint(run_dir: Path) -> Path:
    return max(run_dir.rglob("last.ckpt"), key=os.path.getmtime)


def checkpoint_summary(run_dir: Path) -> dict:
    """Epochs trained, and the best dev F1 and its checkpoint, from the ModelCheckpoint state in last.ckpt.

    textlab continues a run in the checkpoint folder it resumed from, so an extended run has one last.ckpt
    whose state holds the best over both parts. Runs extended before textlab did so have one last.ckpt per part
    (lightning_logs/version_N), each with its own best: the best is taken over all of them.
    """
    from textlab.checkpoint import read_checkpoint

    epochs, best = 0, None
    for last in run_dir.rglob("last.ckpt"):
        ckpt = read_checkpoint(last)
        state = next(v for k, v in ckpt["callbacks"].items() if k.startswith("ModelCheckpoint") and "val/f1" in k)
        epochs = max(epochs, ckpt["epoch"] + 1)
        if state["best_model_score"] is not None and (best is None or state["best_model_score"] > best[0]):
            best = (float(state["best_model_score"]), Path(state["best_model_path"]))
    return {"epochs": epochs, "best_epoch": int(re.search(r"epoch=(\d+)", best[1].name).group(1)) + 1,
            "dev_f1": best[0], "best": best[1]}


def decodes_with_constraints(checkpoint: Path) -> bool:
    """Whether the checkpoint's decoder is a CRF with constrained Viterbi, which it can also run without."""
    from textlab.checkpoint import read_hparams

    decoder = read_hparams(checkpoint).get("decoder")
    if isinstance(decoder, str):  # a class_path alone: its defaults
        decoder = {"class_path": decoder}
    if not isinstance(decoder, dict) or not str(decoder.get("class_path", "")).endswith("CRFDecoder"):
        return False
    return bool((decoder.get("init_args") or {}).get("constrained", True))


def seqeval_f1(gold_file: Path, predicted_file: Path) -> float:
    """seqeval's F1 of the predicted tags against the gold file, both in IOB2."""
    from seqeval.metrics import f1_score

    from textlab.data.conll import detect_scheme, read_conll, to_iob2

    gold = [s for s in read_conll(gold_file) if s.tokens]
    predicted = [s for s in read_conll(predicted_file) if s.tokens]
    if [s.tokens for s in gold] != [s.tokens for s in predicted]:
        raise RunFailed(f"{predicted_file}: the predicted tokens differ from {gold_file}'s")
    gold_scheme, predicted_scheme = detect_scheme(s.tags for s in gold), detect_scheme(s.tags for s in predicted)
    return f1_score([to_iob2(s.tags, gold_scheme) for s in gold], [to_iob2(s.tags, predicted_scheme) for s in predicted])


def novelty(data_dir: str) -> str:
    """How far dev and test stray from training: the share of entities (as strings) never seen as an entity
    in train.txt, and of entity tokens never seen as a word there. Those lean on pretrained vectors and chars."""
    from textlab.data.conll import read_conll
    from textlab.metrics.span_f1 import extract_spans

    def entities(sentences):
        return [tuple(s.tokens[a:b + 1]) for s in sentences for _, a, b in extract_spans(s.tags)]

    train = [s for s in read_conll(Path(data_dir) / "train.txt") if s.tokens]
    seen_entities, seen_words = set(entities(train)), {w for s in train for w in s.tokens}
    parts = []
    for name in ("valid", "test"):
        found = entities(s for s in read_conll(Path(data_dir) / f"{name}.txt") if s.tokens)
        tokens = [w for e in found for w in e]
        parts.append(f"{name}: {100 * sum(e not in seen_entities for e in found) / len(found):.1f}% of "
                     f"{len(found)} entities unseen in training, {100 * sum(w not in seen_words for w in tokens) / len(tokens):.1f}% "
                     "of their tokens never a training word")
    return "; ".join(parts)


def run(args: argparse.Namespace, variant: str, seed: int, earlier: dict | None = None) -> dict:
    """Train (or, given the ``earlier`` result of this run, continue training), test and check one run."""
    run_dir = Path(args.out) / variant / f"seed_{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = os.path.abspath(args.data_dir)
    # the variant first, so that what follows wins over a stacked variant config's own (its default_root_dir)
    fit = ["fit", "--config", args.config, *VARIANTS[variant][1], "--seed_everything", str(seed),
           D + "files.data_dir", data_dir, "--trainer.default_root_dir", str(run_dir),
           "--trainer.enable_progress_bar", "false", "--cpu_threads.per_process", str(args.threads),
           "--test_after_fit", "false"]
    if args.max_epochs:
        fit += ["--trainer.max_epochs", str(args.max_epochs)]
    fit += shlex.split(args.textlab_args)  # quoted values may hold spaces, as for benchmark_mr.py
    if earlier:
        fit += ["--ckpt_path", str(newest_last_checkpoint(run_dir))]
    trained = run_dir / "fit.json"  # written once training has finished: a rerun after a failed test skips it
    if trained.is_file() and not earlier:
        seconds = 60 * json.loads(trained.read_text())["minutes"]
        say(f"{variant} seed {seed}: trained already, testing ({run_dir})")
    else:
        say(f"{variant} seed {seed}: {'continuing' if earlier else 'training'} ({run_dir})")
        start = time.perf_counter()
        textlab(*fit, log_file=run_dir / "fit.log")
        seconds = time.perf_counter() - start + (60 * earlier["minutes"] if earlier else 0)
        trained.write_text(json.dumps({"minutes": round(seconds / 60, 2)}))
    summary = checkpoint_summary(run_dir)
    best = str(summary.pop("best"))
    if variant in LAST_EPOCH:
        best = str(newest_last_checkpoint(run_dir))
        summary.update(best_epoch=summary["epochs"], dev_f1=None)
    # the test runs log their metrics.csv beside the run, not into lightning_logs/ wherever the script was started
    run_options = ["--cpu_threads.per_process", str(args.threads), "--trainer.default_root_dir", str(run_dir / "test")]
    tested = textlab("test", "--ckpt_path", best, D + "files.data_dir", data_dir, *run_options, log_file=run_dir / "test.log")
    test_f1 = metric_from_table(tested, "test/f1")
    # The CRF trains on all paths and the constraints only act in Viterbi, so the same checkpoint also
    # measures decoding without them.
    free = None
    if decodes_with_constraints(Path(best)):
        free = textlab("test", "--ckpt_path", best, D + "files.data_dir", data_dir,
                       M + "decoder.init_args.constrained", "false",
                       *run_options, log_file=run_dir / "test_unconstrained.log")
    predictions = run_dir / "test_predictions.txt"
    textlab("predict", "--ckpt_path", best, D + "predict_file", os.path.join(data_dir, "test.txt"),
            "--output", str(predictions), *run_options, log_file=run_dir / "predict.log")
    checked = seqeval_f1(Path(data_dir) / "test.txt", predictions)
    if abs(checked - test_f1) > 1e-4:
        raise RunFailed(f"test/f1 {test_f1} but seqeval gives {checked}")
    result = {"variant": variant, "seed": seed, **summary, "test_f1": test_f1, "seqeval_f1": checked,
              "unconstrained_test_f1": metric_from_table(free, "test/f1") if free else None,
              "minutes": round(seconds / 60, 2), "checkpoint": best}
    say(f"{variant} seed {seed}: {result['epochs']} epochs, best {result['best_epoch']}, "
        f"dev F1 {percent(result['dev_f1'])}, test F1 {100 * test_f1:.2f} (seqeval {100 * checked:.2f}), "
        f"{result['minutes']:.1f} min")
    return result


def percent(score: float | None) -> str:
    return "–" if score is None else f"{100 * score:.2f}"


def summarise(results: list[dict], variants: list[str]) -> list[dict]:
    rows = []
    for variant in variants:
        mine = [r for r in results if r["variant"] == variant]
        if not mine:
            continue
        test = [100 * r["test_f1"] for r in mine]
        dev = [100 * r["dev_f1"] for r in mine if r["dev_f1"] is not None]
        rows.append({
            "variant": variant, "what": VARIANTS[variant][0], "seeds": len(mine),
            "dev_mean": statistics.mean(dev) if dev else None, "test_mean": statistics.mean(test),
            "test_std": statistics.stdev(test) if len(test) > 1 else 0.0,
            "epochs": statistics.mean(r["epochs"] for r in mine),
            "minutes": statistics.mean(r["minutes"] for r in mine),
        })
    return rows


def markdown(results: list[dict], rows: list[dict]) -> str:
    runs = ["| variant | seed | epochs | best epoch | dev F1 | test F1 | seqeval test F1 "
            "| test F1, Viterbi unconstrained | wall (min) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(results, key=lambda r: (list(VARIANTS).index(r["variant"]), r["seed"])):
        # older results lack it; a decoder without constraints (a softmax, an unconstrained CRF) has none to drop
        free = f"{100 * r['unconstrained_test_f1']:.2f}" if r.get("unconstrained_test_f1") is not None else "–"
        runs.append(f"| {r['variant']} | {r['seed']} | {r['epochs']} | {r['best_epoch']} | {percent(r['dev_f1'])} "
                    f"| {100 * r['test_f1']:.2f} | {100 * r['seqeval_f1']:.2f} "
                    f"| {free} | {r['minutes']:.1f} |")
    summary = ["| variant | what changes | seeds | dev F1 (mean) | test F1 (mean ± std) | epochs | wall per run (min) |",
               "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        std = f" ± {r['test_std']:.2f}" if r["seeds"] > 1 else ""
        dev = "–" if r["dev_mean"] is None else f"{r['dev_mean']:.2f}"
        summary.append(f"| {r['variant']} | {r['what']} | {r['seeds']} | {dev} | "
                       f"{r['test_mean']:.2f}{std} | {r['epochs']:.0f} | {r['minutes']:.1f} |")
    return "\n".join(summary) + "\n\nPer run:\n\n" + "\n".join(runs)


def machine(threads: int, jobs: int) -> str:
    cpu = cpu_name()
    return f"{cpu}, {os.cpu_count()} cores, {jobs} training(s) at a time with {threads} thread(s) each"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for name in ("train.txt", "valid.txt", "test.txt"):
        if not os.path.isfile(os.path.join(args.data_dir, name)):
            sys.exit(f"benchmark_conll: no {name} in {args.data_dir}: pass --data-dir with the CoNLL-2003 files")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    results = json.loads(saved.read_text())["runs"] if saved.is_file() else []
    done = {(r["variant"], r["seed"]): r for r in results}
    todo = []
    for variant in args.variants:
        seeds = args.seed_list if variant == "char-cnn" or args.ablation_seeds is None else args.seed_list[: args.ablation_seeds]
        for seed in seeds:
            earlier = done.get((variant, seed))
            if earlier is None:
                todo.append((variant, seed, None))
            elif args.extend and earlier["epochs"] < args.max_epochs:
                todo.append((variant, seed, earlier))
    command = "python scripts/benchmark_conll.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lock = threading.Lock()

    def one(item: tuple[str, int, dict | None]) -> None:
        try:
            result = run(args, *item)
        except RunFailed as error:
            raise RunFailed(f"{item[0]} seed {item[1]}: {error}") from None
        with lock:
            if item[2] is not None:
                results.remove(item[2])
            results.append(result)
            saved.write_text(json.dumps({"runs": results, "command": command}, indent=1))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one, item) for item in todo]
        try:
            for future in as_completed(futures):
                future.result()
        except RunFailed as error:
            # runs already going finish (and are saved, so a rerun skips them); queued ones never start
            pool.shutdown(wait=True, cancel_futures=True)
            sys.exit(f"benchmark_conll: {error}")
    rows = summarise(results, list(VARIANTS))
    report = (f"{markdown(results, rows)}\n\nCommand: `{command}`\n\nData: {novelty(args.data_dir)}.\n\n"
              f"{(time.perf_counter() - start) / 60:.1f} min in this run, on {machine(args.threads, args.jobs)}.\n")
    (out / "results.md").write_text(report)
    saved.write_text(json.dumps({"runs": results, "summary": rows, "command": command}, indent=1))
    print(report)


if __name__ == "__main__":
    main()
