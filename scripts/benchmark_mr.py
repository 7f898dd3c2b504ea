"""k-fold cross-validation of TextCNN on MR (Pang & Lee 2005) against Kim (2014), through `textlab fit`.

    python scripts/benchmark_mr.py --data ../shared/data/mr [--folds 10] [--variants rand,static]
                                   [--max-epochs 10] [--threads 1] [--out runs/benchmark_mr]

For every variant and fold this runs the real command, in-process:
``textlab fit --config configs/cls_textcnn_mr.yaml --data.splits.fold F --data.splits.num_folds K ...``: fold F is the
test set, 10% of the other folds (stratified) the validation set that picks the best epoch, and the fit
ends by testing that epoch's checkpoint. The table gives each variant's mean +- std test accuracy over
the folds next to Kim's number. Results are saved after every fold (``results.json``) and a rerun with
the same --out skips the folds already done, so a long run can be resumed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_name import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "cls_textcnn_mr.yaml"
# Kim (2014), Table 2, MR column (word2vec 300d for the pretrained variants).
KIM = {"rand": 76.1, "static": 81.0, "non-static": 81.5, "multichannel": 81.1}
VARIANTS = list(KIM)
EMBEDDER = "--model.init_args.embedder.init_args"  # the word vectors part (textlab.modules.WordChannels)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/mr", help="folder with rt-polarity.pos and rt-polarity.neg")
    parser.add_argument("--folds", type=int, default=10, help="k of the k-fold cross-validation")
    parser.add_argument("--run-folds", default=None, help="run only these folds, e.g. 0,1 (default: all)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epochs per fold (default: the config's trainer.max_epochs)")
    parser.add_argument("--rand-dim", type=int, default=300, help="word vector size of CNN-rand (Kim: 300)")
    parser.add_argument("--embeddings", default="glove-6b-50d", help="pretrained vectors of the other variants")
    parser.add_argument("--seed", type=int, default=1, help="training seed (the folds use data.split_seed 0)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (OMP_NUM_THREADS)")
    parser.add_argument("--textlab-args", default="", help="more `textlab fit` arguments for every fold, e.g. "
                        "'--model.init_args.encoder.init_args.filters 200'")
    parser.add_argument("--out", default="runs/benchmark_mr",
                        help="folder for checkpoints, results.json and results.md")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in KIM]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    if args.folds < 2:
        parser.error(f"--folds {args.folds}: cross-validation needs at least 2 folds")
    try:
        args.run_folds = [int(f) for f in args.run_folds.split(",")] if args.run_folds else list(range(args.folds))
    except ValueError:
        parser.error(f"--run-folds {args.run_folds}: expected fold numbers separated by commas, e.g. 0,1")
    outside = [f for f in args.run_folds if not 0 <= f < args.folds]
    if outside:
        parser.error(f"--run-folds: fold {outside[0]} is not one of the {args.folds} folds (0 .. {args.folds - 1})")
    if args.threads < 1:
        parser.error(f"--threads {args.threads}: at least 1")
    return args


def fit_args(args: argparse.Namespace, variant: str, fold: int, root_dir: Path) -> list[str]:
    cli = [
        "fit", "--config", str(CONFIG), "--seed_everything", str(args.seed),
        "--data.init_args.class_files.data_dir", args.data,
        "--data.init_args.splits.num_folds", str(args.folds), "--data.init_args.splits.fold", str(fold),
        f"{EMBEDDER}.mode", variant,
        *(["--trainer.max_epochs", str(args.max_epochs)] if args.max_epochs is not None else []),
        "--trainer.default_root_dir", str(root_dir),
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        *shlex.split(args.textlab_args),
    ]
    # after --textlab-args, so that they set the variant's own vectors whatever those say
    if variant == "rand":
        # Kim's CNN-rand: one random vector of rand_dim per word, no second (extra) part, no ensemble
        cli += [f"{EMBEDDER}.pretrained", "null",
                # pretrained_words_scope: the default; "data" picks among words not added
                "--data.init_args.words.add_pretrained_words", "null",
                "--data.init_args.words.pretrained_words_scope", "all",
                f"{EMBEDDER}.dim", str(args.rand_dim), f"{EMBEDDER}.extra_dim", "0",
                "--model.init_args.ensemble", "null"]
    else:
        cli += [f"{EMBEDDER}.pretrained", args.embeddings,
                "--data.init_args.words.add_pretrained_words", args.embeddings]
    return cli


def run_fold(args: argparse.Namespace, variant: str, fold: int) -> dict:
    from textlab.cli import TextlabCLI

    root_dir = Path(args.out) / variant / f"fold_{fold}"
    start = time.perf_counter()
    argv, sys.argv = sys.argv, sys.argv[:1]  # the fold's arguments are all in args=
    try:
        cli = TextlabCLI(args=fit_args(args, variant, fold, root_dir))
    finally:
        sys.argv = argv
    seconds = time.perf_counter() - start
    checkpoint = cli.trainer.checkpoint_callback
    embedder = _init_args(cli.model.hparams.get("embedder"))
    # train_with_dev: the validation part is trained on too, so it picks nothing and the last epoch is tested
    refit = bool(getattr(cli.datamodule, "train_with_dev", False))
    return {
        "variant": variant,
        "fold": fold,
        "seed": args.seed,
        "test_acc": float(cli.trainer.callback_metrics["test/acc"]),
        "train_with_dev": refit,
        "best_val_acc": None if refit else float(checkpoint.best_model_score),
        "best_checkpoint": "last.ckpt" if refit else os.path.basename(checkpoint.best_model_path),
        "epochs": cli.trainer.current_epoch,
        "seconds": round(seconds, 1),
        # what the word vectors were, for the table: the config or --textlab-args may add trained dims
        "word_dim": embedder.get("dim"),
        "extra_word_dim": embedder.get("extra_dim", 0),
        # the n-gram length of the logistic regression averaged with the network (0: none)
        "ensemble_ngrams": _init_args(cli.model.hparams.get("ensemble")).get("ngrams", 0),
        "model": model_name(cli.model.hparams),
    }


def _init_args(part) -> dict:
    """A part's settings as the model's hyperparameters hold them ({class_path, init_args}); {} for none."""
    return dict(part.get("init_args") or {}) if isinstance(part, dict) else {}


def model_name(hparams) -> str:
    """The table's name for the classifier, which --textlab-args may change: CNN, BiLSTM-max, Bag, ..."""
    encoder = hparams.get("encoder") or {"class_path": "textlab.modules.TextCNN"}
    name = encoder["class_path"].rsplit(".", 1)[-1]
    if name == "PooledRNN":
        settings = _init_args(encoder)
        return f"{'Bi' if settings.get('bidirectional', True) else ''}{settings.get('cell', 'lstm').upper()}-" \
               f"{settings.get('pooling', 'max')}"
    return {"TextCNN": "CNN", "NgramBag": "Bag"}.get(name, name)


def summarise(results: list[dict], variants: list[str]) -> list[dict]:
    rows = []
    for variant in variants:
        mine = [r for r in results if r["variant"] == variant]
        accs = [100 * r["test_acc"] for r in mine]
        if not accs:
            continue
        rows.append({
            "variant": variant,
            "folds": len(accs),
            "mean": statistics.mean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "kim": KIM[variant],
            "minutes": sum(r["seconds"] for r in results if r["variant"] == variant) / 60,
            "word_dim": mine[-1].get("word_dim"),
            "extra_word_dim": mine[-1].get("extra_word_dim", 0),
            "ensemble_ngrams": mine[-1].get("ensemble_ngrams", 0),
            "model": mine[-1].get("model", "CNN"),  # results from before this key were all TextCNN
        })
    return rows


def markdown_table(rows: list[dict], embeddings: str, rand_dim: int) -> str:
    lines = [
        "| variant | folds | accuracy % (mean ± std) | Kim (2014), word2vec 300d | time (min) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        vectors = f"{r.get('word_dim') or rand_dim}d" if r["variant"] == "rand" else embeddings
        if r.get("extra_word_dim"):
            vectors += f" + {r['extra_word_dim']} trained dims"
        if r.get("ensemble_ngrams"):
            n = r["ensemble_ngrams"]
            grams = "words" if n == 1 else f"1-{n}-grams"
            vectors += f"; averaged with a logistic regression on {grams}"
        name = f"{r.get('model', 'CNN')}-{r['variant']} ({vectors})"
        accuracy = f"{r['mean']:.1f} ± {r['std']:.1f}"
        lines.append(f"| {name} | {r['folds']} | {accuracy} | {r['kim']:.1f} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def protocol(results: list[dict], variants: list[str]) -> str:
    """How each fold's tested model was chosen, as a sentence under the table."""
    mine = [r for r in results if r["variant"] in variants]
    epochs = sorted({r.get("epochs") for r in mine if r.get("epochs") is not None})
    span = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}" if epochs else "?"
    if all(r.get("train_with_dev") for r in mine):
        return (f"Each fold trained on the other folds, their validation part included (train_with_dev), for {span} "
                "epochs, and its last epoch was tested.")
    if not any(r.get("train_with_dev") for r in mine):
        return (f"Each fold trained on the other folds less a validation part for {span} epochs; the epoch with the "
                "best val/acc was tested.")
    return "The folds mix both model choices (train_with_dev and the best val/acc): see results.json."


def machine() -> str:
    import torch

    cpu = cpu_name()
    return f"{cpu}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    import logging

    # imported after OMP_NUM_THREADS is set: they import torch
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from textlab.errors import TextlabError

    log = logging.getLogger("textlab")  # as `textlab` itself shows it
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("textlab: %(message)s"))
        log.addHandler(handler)
    if not os.path.isdir(args.data):
        sys.exit(f"benchmark_mr: no folder {args.data}: pass --data with rt-polarity.pos and rt-polarity.neg")
    missing = [name for name in ("rt-polarity.pos", "rt-polarity.neg") if not os.path.isfile(os.path.join(args.data, name))]
    if missing:
        sys.exit(f"benchmark_mr: no {missing[0]} in {args.data}: pass --data with rt-polarity.pos and rt-polarity.neg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    results = json.loads(saved.read_text())["folds"] if saved.is_file() else []
    # a fold is done whatever its seed, so one --out must hold one seed (results before seeds were kept have none)
    other_seeds = sorted({r["seed"] for r in results if "seed" in r} - {args.seed})
    if other_seeds:
        sys.exit(f"benchmark_mr: {saved} holds folds trained with --seed {other_seeds[0]}, not {args.seed}: "
                 "give each seed its own --out")
    done = {(r["variant"], r["fold"]) for r in results}
    start = time.perf_counter()
    for variant in args.variants:
        for fold in args.run_folds:
            if (variant, fold) in done:
                continue
            try:
                result = run_fold(args, variant, fold)
            # textlab's own errors, one line each (the CLI would print them so); folds done so far are kept
            except (TextlabError, MisconfigurationException) as e:
                sys.exit(f"benchmark_mr: {variant} fold {fold}: textlab: error: {e}")
            results.append(result)
            chosen = (f"trained on the validation part too, last of {result['epochs']} epochs"
                      if result["train_with_dev"] else f"val {100 * result['best_val_acc']:.2f}, {result['best_checkpoint']}")
            print(f"benchmark_mr: {variant} fold {fold}: test acc {100 * result['test_acc']:.2f} ({chosen}, "
                  f"{result['seconds']:.0f} s)", flush=True)
            saved.write_text(json.dumps({"folds": results}, indent=1))
    rows = summarise(results, args.variants)
    table = markdown_table(rows, args.embeddings, args.rand_dim)
    command = "python scripts/benchmark_mr.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    total = sum(r["seconds"] for r in results if r["variant"] in args.variants) / 60
    report = (f"{table}\n\n{protocol(results, args.variants)}\n\nCommand: `{command}`\n\nTraining time: {total:.1f} min in all "
              f"({(time.perf_counter() - start) / 60:.1f} min in this run) on {machine()}.\n")
    (out / "results.md").write_text(report)
    (out / "results.json").write_text(json.dumps({"folds": results, "summary": rows, "command": command}, indent=1))
    print(report)


if __name__ == "__main__":
    main()
