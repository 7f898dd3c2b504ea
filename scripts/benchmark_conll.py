"""CoNLL-2003 English NER: the BiLSTM-CRF recipe and its ablations, over seeds, through `textlab`.

    python scripts/benchmark_conll.py --data-dir ../shared/data/conll2003 [--seeds 3]
        [--variants char-cnn,no-chars,...] [--jobs 2] [--out runs/benchmark_conll]

Every run is the commands a user types, each in its own process:

1. ``textlab fit --config configs/ner_bilstm_crf.yaml --data.files.data_dir D --seed_everything S`` plus the
   variant's overrides. The ModelCheckpoint in the config keeps the epoch with the best dev F1.
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
# flair's annealing: the learning rate halved after 3 epochs without a better dev F1
PLATEAU = [M + "lr_scheduler.class_path", "torch.optim.lr_scheduler.ReduceLROnPlateau", M + "lr_scheduler.init_args.mode",
           "max", M + "lr_scheduler.init_args.factor", "0.5", M + "lr_scheduler.init_args.patience", "3"]
# name -> (what it changes, `textlab fit` overrides); "char-cnn" is the config as shipped.
VARIANTS = {
    "char-cnn": ("the config: GloVe 50d, char-CNN, BIOES, constrained Viterbi", []),
    "no-chars": ("no character features", [M + "char_encoder", "none"]),
    "char-lstm": ("char-BiLSTM (25 per direction) instead of the char-CNN", [M + "char_encoder", "lstm"]),
    "both": ("char-CNN and char-BiLSTM side by side", [M + "char_encoder", "both"]),
    "cnn_lstm": ("char-CNN feeding a char-BiLSTM", [M + "char_encoder", "cnn_lstm"]),
    "iob2": ("IOB2 tags instead of BIOES", [D + "tag_scheme", "IOB2"]),
    "random-words": ("random-init word vectors, training words only",
                     [M + "embeddings", "null", D + "words.add_pretrained_words", "null"]),
    "train-vocab": ("GloVe init but the vocabulary from training words only",
                    [D + "words.add_pretrained_words", "null"]),
    "casing": ("plus a 10-d casing-class embedding", [M + "casing_dim", "10"]),
    "word-dropout": ("training words replaced by <unk> with probability 0.05", [M + "word_dropout", "0.05"]),
    "char-dropout": ("plus dropout 0.5 on the character embeddings (Ma & Hovy)", [M + "char_dropout", "0.5"]),
    "char-cnn-wide": ("char-CNN of 50 filters for each of widths 2, 3 and 4 (150 features, not 30)",
                      [M + "char_filters", "50", M + "char_widths", "[2,3,4]"]),
    "two-layers": ("two stacked BiLSTM layers (200 per direction each, dropout 0.5 between)",
                   [M + "num_layers", "2"]),
    "hidden-300": ("BiLSTM 300 per direction instead of 200", [M + "hidden_size", "300"]),
    "hidden-100": ("BiLSTM 100 per direction (NCRF++'s hidden size 200 in all)", [M + "hidden_size", "100"]),
    "nadam": ("NAdam at lr 0.002 instead of SGD (Reimers & Gurevych 2017), same decay and clipping",
              [M + "optimizer", "torch.optim.NAdam", M + "optimizer.lr", "0.002"]),
    "adam": ("Adam at lr 0.001 instead of SGD, same decay and clipping",
             [M + "optimizer", "torch.optim.Adam", M + "optimizer.lr", "0.001"]),
    "adam-0.002": ("Adam at lr 0.002 instead of SGD, same decay and clipping",
                   [M + "optimizer", "torch.optim.Adam", M + "optimizer.lr", "0.002"]),
    "adam-0.0005": ("Adam at lr 0.0005 instead of SGD, same decay and clipping",
                    [M + "optimizer", "torch.optim.Adam", M + "optimizer.lr", "0.0005"]),
    "ema": ("validation, checkpoints and test on an exponential moving average of the weights, updated every "
            "100 steps with decay 0.9 (about 1000 steps, 0.7 epoch)", [
                T + "callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", T + "callbacks.decay=0.9",
                T + "callbacks.update_every_n_steps=100", T + "callbacks.use_buffers=false"]),
    "ema-long": ("as ema with decay 0.98 (about 5000 steps, 3.6 epochs)", [
                 T + "callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", T + "callbacks.decay=0.98",
                 T + "callbacks.update_every_n_steps=100", T + "callbacks.use_buffers=false"]),
    "swa-30": ("validation, checkpoints and test on the equal average of the weights taken every 100 steps from "
               "epoch 30 (0-based) on (stochastic weight averaging over the last 20 epochs)", [
                   T + "callbacks+=textlab.callbacks.TailWeightAveraging", T + "callbacks.start_epoch=30",
                   T + "callbacks.every_n_steps=100"]),
    "extra-words": ("plus a 50-d trained vector per training word, from zeros, beside its fine-tuned GloVe one",
                    [M + "extra_word_dim", "50"]),
    "frozen-extra": ("GloVe vectors frozen for the whole run, plus a 50-d trained vector per training word",
                     [T + "callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                      T + "callbacks.unfreeze_at_epoch=null", M + "extra_word_dim", "50"]),
    "variational-dropout": ("the dropout mask drawn once per sentence, the same at every position (Gal & "
                            "Ghahramani; Reimers & Gurevych 2017)", [M + "variational_dropout", "true"]),
    "recurrent-dropout-0.25": ("dropout 0.25 on the BiLSTM's hidden-to-hidden weights, one mask per batch for every "
                               "step (weight drop)", [M + "recurrent_dropout", "0.25"]),
    "recurrent-dropout-0.5": ("as recurrent-dropout-0.25 with 0.5", [M + "recurrent_dropout", "0.5"]),
    "lowercase": ("words lower-cased in the word vocabulary (the characters keep their case), plus a 10-d "
                  "casing-class embedding", [D + "words.lowercase", "true", M + "casing_dim", "10"]),
    "frozen-words": ("word vectors frozen for the whole run (GloVe rows as loaded)",
                     [T + "callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                      T + "callbacks.unfreeze_at_epoch=null"]),
    "freeze-first": ("word vectors frozen for the first 5 epochs, then fine-tuned",
                     [T + "callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                      T + "callbacks.unfreeze_at_epoch=5"]),
    "clip-1": ("gradients rescaled to norm 1 instead of 5 (Reimers & Gurevych 2017's gradient normalisation)",
               [T + "gradient_clip_val", "1.0"]),
    "batch-32": ("batch 32 instead of 10, SGD lr 0.048 instead of 0.015 (scaled linearly with the batch)",
                 [D + "batch_size", "32", M + "optimizer.init_args.lr", "0.048"]),
    "ma-hovy-init": ("Ma & Hovy's initialisation: char embeddings uniform +-sqrt(3/30), Glorot-uniform weights, "
                     "zero biases but 1.0 on the LSTM forget gate (PyTorch's defaults otherwise)",
                     [M + "init", "ma_hovy"]),
    "constrained-training": ("the transition constraints also in training: the CRF's normaliser sums over "
                             "allowed paths only", [M + "constrained_training", "true"]),
    "frozen-copy": ("each word's GloVe vector as loaded, never trained, beside its fine-tuned one (Kim 2014's "
                    "multichannel input)", [M + "frozen_word_copy", "true"]),
    "plateau": ("SGD's learning rate halved when dev F1 has not improved for 3 epochs (flair's annealing) "
                "instead of 1/(1 + 0.05 t)", PLATEAU),
    "frozen-copy-plateau": ("frozen-copy and plateau together", [M + "frozen_word_copy", "true", *PLATEAU]),
    # NCRF++'s demo.train.config, the recipe behind its 91.35 with GloVe 100d. NCRF++ sums the loss over the
    # batch (ave_batch_loss=False) where textlab takes the mean, so its lr 0.015 is 0.15 here.
    "ncrfpp": ("NCRF++'s own recipe: SGD without momentum at 0.015 on the summed loss (0.15 on our mean), L2 1e-8, "
               "no clipping, char-CNN of 50 filters with dropout 0.5 on the char embeddings, BiLSTM 100 per "
               "direction, digits normalised to 0", [
                   M + "optimizer.init_args.lr", "0.15", M + "optimizer.init_args.momentum", "0",
                   M + "optimizer.init_args.weight_decay", "1e-8", T + "gradient_clip_val", "null",
                   M + "char_filters", "50", M + "char_dropout", "0.5", M + "hidden_size", "100",
                   D + "words.normalize_digits", "true"]),
    "pretrained-swap-0.1": ("in training, a word's occurrence gets its GloVe vector as loaded instead of the "
                            "fine-tuned one with probability 0.1, as a test word never seen in training has it",
                            [M + "pretrained_word_swap", "0.1"]),
    "pretrained-swap-0.3": ("as pretrained-swap-0.1 with probability 0.3", [M + "pretrained_word_swap", "0.3"]),
    "lr-0.01": ("SGD lr 0.01 instead of 0.015 (Ma & Hovy tuned theirs with 100d vectors)",
                [M + "optimizer.init_args.lr", "0.01"]),
    "lr-0.025": ("SGD lr 0.025 instead of 0.015", [M + "optimizer.init_args.lr", "0.025"]),
    "lm-0.1": ("plus Rei (2017)'s auxiliary loss, weight 0.1: the forward LSTM predicts the next word and the "
               "backward one the previous word, among the 7,500 most frequent training words",
               [M + "language_model_weight", "0.1"]),
    # EarlyStopping's patience raised past max_epochs (it is the config's last callback): its val/f1 is then
    # measured on training sentences, so every run trains the fixed number of epochs.
    "train-with-dev": ("trained on train.txt and valid.txt together for the config's epochs, as Chiu & Nichols "
                       "(2016) and flair's train_with_dev do; the last epoch is tested (dev no longer selects)",
                       [D + "train_with_dev", "true", T + "callbacks.patience=1000"]),
    "dropout-0.33": ("dropout 0.33 instead of 0.5 on the token vectors and the BiLSTM output", [M + "dropout", "0.33"]),
    "dropout-0.6": ("dropout 0.6 instead of 0.5 on the token vectors and the BiLSTM output", [M + "dropout", "0.6"]),
    "no-bucket": ("training batches drawn at random, as Ma & Hovy's and NCRF++'s, instead of sentences of similar "
                  "length together", [D + "bucket", "false"]),
    "min-entity-0.5": ("decoded entities whose probability under the CRF is below 0.5 dropped (tags made O) in "
                       "validation and test, so also when dev picks the epoch; training unchanged",
                       [M + "min_entity_probability", "0.5"]),
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


def trained_constrained(checkpoint: Path) -> bool:
    from textlab.checkpoint import read_hparams

    return bool(read_hparams(checkpoint).get("constrained_training"))


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
    fit = ["fit", "--config", args.config, "--seed_everything", str(seed), D + "files.data_dir", data_dir,
           "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false",
           "--cpu_threads.per_process", str(args.threads), "--test_after_fit", "false", *VARIANTS[variant][1]]
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
    # Unless the CRF trained with the constraints, it trained on all paths and the constraints only act in
    # Viterbi, so the same checkpoint also measures decoding without them.
    free = None
    if not trained_constrained(Path(best)):
        free = textlab("test", "--ckpt_path", best, D + "files.data_dir", data_dir, M + "constrained_decoding", "false",
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
        # older results lack it; a CRF trained with the constraints cannot decode without them
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
