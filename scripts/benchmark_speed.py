"""Training and tagging speed of the CoNLL-2003 recipe against a plain-PyTorch reference, each in one process.

    python scripts/benchmark_speed.py --data-dir ../shared/data/conll2003 [--ckpt CKPT] [--threads N]
        [--repeats 5] [--train-sentences 2000] [--latency-sentences 500] [--limit-test N]

textlab's model and data come from configs/ner_bilstm_crf.yaml through `textlab fit` itself (GloVe 50d, the data
module's vocabulary, BIOES, its batch size 10), so what is measured is what users run. The reference is the same
network written as users write it in plain PyTorch (scripts/speed_reference.py: random batches of 32 padded to the
batch's maximum, pytorch-crf's loss and crf.decode, every GloVe row trained), with the same sizes.

- Training sentences/s: --train-sentences a run, after a warm-up run of each. The reference (batch 32); textlab
  through the Trainer (Trainer.fit with max_steps; no validation, checkpoint, logger or progress bar) at the shipped
  batch size and at the reference's 32; and textlab's model in a bare loop over the same batches (forward, CRF loss,
  backward, clip to norm 5, SGD step), whose difference from the Trainer is Lightning's overhead. textlab's batches
  are its data module's (length-bucketed, in random order), part of what is measured. The Trainer's clock runs
  from the epoch's start to the last step's end: fit's set-up (pretrained vectors, optimiser) is once per run, not
  per step.
- Tagging sentences/s over the test set in file order, batch 256: the reference (crf.decode), textlab's
  model.predict with the config's min_entity_probability and with 0, and the ONNX exports (float32, int8) through
  textlab.runtime when `textlab export` and textlab.runtime are installed (else their rows say so).
- Latency: one sentence a call, the first --latency-sentences test sentences; p50 and p99 over all repeats.
- Peak RSS of training: each training variant once more, --train-sentences, in a child process of its own (this
  script with a hidden flag; reading the data and building the model included, as in a training run): a peak
  cannot be measured for one part of a process that has run the others.

oneDNN's caches are sized as textlab's commands size them (textlab/onednn_cache.py): `textlab fit` keeps more
entries than the prediction commands, so the training runs are made in a child process with fit's sizes and the
tagging runs in this one with predict's. The imports' objects are kept out of the garbage collector as the
commands do (textlab/frozen_imports.py). The reference runs in both processes, under the same settings. Runs
are interleaved (for each repeat, every variant once; the tagging variants in an order rotated by one each repeat)
and the medians reported, so a slow spell of the machine falls on all variants alike. Without --ckpt the tagging
rows use the model as trained by the runs above: an untrained model finds other entities than a trained one,
which changes the cost of min_entity_probability a little; give a checkpoint of this config for figures to quote.
Speed only: no accuracy is measured here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from textlab.frozen_imports import freeze_imported_objects

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_reference  # noqa: E402
from cpu_name import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRAINING = {  # variant -> (what it is, batch size; None: the config's)
    "reference": ("plain PyTorch reference", 32),
    "trainer": ("textlab, Trainer.fit", None),
    "trainer-32": ("textlab, Trainer.fit", 32),
    "bare": ("textlab's model, bare loop", None),
    "bare-32": ("textlab's model, bare loop", 32),
}
RSS_MARK = "peak RSS MB:"
RESULT_MARK = "training result:"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a folder with CoNLL-2003's train.txt, valid.txt, test.txt")
    parser.add_argument("--config", default=str(ROOT / "configs" / "ner_bilstm_crf.yaml"))
    parser.add_argument("--textlab-args", default="", help="more `textlab fit` options, e.g. for a smaller model")
    parser.add_argument("--ckpt", help="a trained checkpoint of the config to tag with (default: the one trained here)")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-sentences", type=int, default=2000, help="sentences a training run")
    parser.add_argument("--warmup-sentences", type=int, default=200, help="sentences of each variant's warm-up run")
    parser.add_argument("--latency-sentences", type=int, default=500, help="test sentences tagged one a call")
    parser.add_argument("--limit-test", type=int, help="tag only the first N test sentences")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak RSS runs (a child process each)")
    parser.add_argument("--rss-child", choices=list(TRAINING), help=argparse.SUPPRESS)
    parser.add_argument("--reference-setup", help=argparse.SUPPRESS)  # JSON: the reference's vectors and sizes
    parser.add_argument("--training-child", help=argparse.SUPPRESS)  # where to save the model trained ("": nowhere)
    args = parser.parse_args(argv)
    args.threads = args.threads or len(os.sched_getaffinity(0))
    return args


# -- textlab -------------------------------------------------------------------------------------------------------

def build_textlab(args: argparse.Namespace, workdir: str):
    """`textlab fit` with the config, zero steps: the model, the data module (set up) and the parsed settings."""
    from textlab.cli import TextlabCLI

    return TextlabCLI(["fit", "--config", args.config, "--data.init_args.files.data_dir", args.data_dir,
                       *shlex.split(args.textlab_args), "--trainer.max_steps", "0", "--trainer.callbacks", "[]",
                       "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                       "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
                       "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", workdir,
                       "--cpu_threads.per_process", str(args.threads), "--test_after_fit", "false",
                       "--report", "false"])


def training_clock():
    from lightning.pytorch import Callback

    class TrainingClock(Callback):
        """Sentences trained and seconds, from the epoch's start (batch loading included) to the last step's end."""

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.sentences, self.start, self.end = 0, time.perf_counter(), time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.sentences += len(batch)
            self.end = time.perf_counter()

    return TrainingClock()


def fit_with_trainer(cli, batch_size: int, sentences: int) -> tuple[int, float]:
    """A new Trainer from the config's settings (as `textlab fit` builds it), fitting ``sentences`` sentences."""
    cli.datamodule.batch_size = batch_size
    clock = training_clock()
    trainer = cli.instantiate_trainer(callbacks=[clock], max_steps=math.ceil(sentences / batch_size))
    trainer.fit(cli.model, datamodule=cli.datamodule)
    return clock.sentences, clock.end - clock.start


def bare_loop(cli, batch_size: int, sentences: int) -> tuple[int, float]:
    """The model's forward and loss, backward, clipping and SGD step, over the data module's batches; no Lightning."""
    model, data = cli.model, cli.datamodule
    data.batch_size = batch_size
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    clip = cli.config_init.fit.trainer.gradient_clip_val
    parameters = [p for p in model.parameters() if p.requires_grad]
    model.train()
    done, began = 0, time.perf_counter()
    for batch in itertools.islice(data.train_dataloader(), math.ceil(sentences / batch_size)):
        optimizer.zero_grad()
        loss = model.decoder.loss(model(batch), batch.tags, batch.mask)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(parameters, clip)
        optimizer.step()
        done += len(batch)
    return done, time.perf_counter() - began


def reference_setup(cli) -> dict:
    """The reference's GloVe and sizes: the config's, read off the model it built."""
    model = cli.model
    chars, rnn = model.embedder.chars, model.encoder.rnn
    sizes = {"word_dim": model.embedder.words.embedding_dim, "hidden": rnn.hidden_size, "dropout": model.dropout.p}
    if hasattr(chars, "convs"):  # a CharCNN
        sizes.update(char_dim=chars.embedding.embedding_dim, filters=chars.convs[0].out_channels,
                     width=chars.convs[0].kernel_size[0])
    return {"vectors": cli.datamodule.add_pretrained_words, "sizes": sizes}


def training_variants(cli, reference: tuple) -> dict:
    """Variant -> run(sentences) -> (sentences trained, seconds)."""
    ref_model, ref_sentences, ref_vocab = reference
    shipped = cli.datamodule.batch_size
    seeds = itertools.count()  # a new random order each run
    return {
        "reference": lambda n: speed_reference.train(ref_model, ref_sentences, ref_vocab, n, 32, next(seeds)),
        "trainer": lambda n: fit_with_trainer(cli, shipped, n),
        "trainer-32": lambda n: fit_with_trainer(cli, 32, n),
        "bare": lambda n: bare_loop(cli, shipped, n),
        "bare-32": lambda n: bare_loop(cli, 32, n),
    }


# -- peak memory, a child process a variant ------------------------------------------------------------------------

def peak_training_rss(variant: str, argv: list[str], setup: dict) -> float:
    """MB: the peak resident memory of a process that builds the variant and trains --train-sentences."""
    done = subprocess.run([sys.executable, __file__, *argv, "--rss-child", variant, "--reference-setup",
                           json.dumps(setup)], capture_output=True, text=True)
    found = [line for line in done.stdout.splitlines() if line.startswith(RSS_MARK)]
    if done.returncode or not found:
        raise SystemExit(f"the peak RSS run of {variant} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return float(found[-1].split(":", 1)[1])


def peak_rss_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    exec, so a child started from this script would report at least the parent's size at the fork."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024  # kB


def rss_child(args: argparse.Namespace) -> None:
    if args.rss_child == "reference":
        setup = json.loads(args.reference_setup)
        reference = speed_reference.build(args.data_dir, setup["vectors"], setup["sizes"])
        speed_reference.train(*reference, args.train_sentences)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            cli = build_textlab(args, workdir)
            training_variants(cli, (None, None, None))[args.rss_child](args.train_sentences)
    print(f"{RSS_MARK} {peak_rss_mb():.0f}")


# -- tagging -------------------------------------------------------------------------------------------------------

def onnx_taggers(ckpt: str, workdir: str, threads: int) -> dict:
    """Name -> a textlab.runtime tagger of the checkpoint's export, or why there is none."""
    names = ("ONNX float32", "ONNX int8")
    for module in ("textlab.export", "textlab.runtime"):
        if importlib.util.find_spec(module) is None:
            return {name: f"not available: no {module} in this textlab" for name in names}
    import textlab.runtime as runtime

    # both exports at once: they are not timed, and each is mostly a process starting up
    exports = {}
    for name, options in zip(names, ([], ["--int8", "true"])):
        out = os.path.join(workdir, name.replace(" ", "_"))
        command = [sys.executable, "-m", "textlab", "export", "--ckpt_path", ckpt, "--format", "onnx", "--output", out,
                   *options]
        exports[name] = out, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = {}
    for name, (out, process) in exports.items():
        errors = process.communicate()[1]
        if process.returncode:
            found[name] = f"not available: textlab export: {(errors.strip().splitlines() or ['?'])[-1]}"
        else:
            found[name] = runtime.load(out, threads=threads)
    return found


def tagging_variants(ckpt: str, reference: tuple, workdir: str, threads: int) -> tuple[dict, dict]:
    """Name -> tag(token lists, batch size), and name -> why a variant is not available."""
    from textlab.predict import load_model

    ref_model, _, ref_vocab = reference
    model = load_model(ckpt)
    probability = model.decoder.min_entity_probability
    without = load_model(ckpt)
    without.decoder.min_entity_probability = 0.0
    variants = {
        "plain PyTorch reference, crf.decode": lambda s, b: speed_reference.tag(ref_model, s, ref_vocab, b),
        f"textlab model.predict, min_entity_probability {probability:g} (the config's)":
            lambda s, b: model.predict(s, batch_size=b),
        "textlab model.predict, min_entity_probability 0": lambda s, b: without.predict(s, batch_size=b),
    }
    missing = {}
    for name, tagger in onnx_taggers(ckpt, workdir, threads).items():
        label = f"{name}, textlab.runtime"
        if isinstance(tagger, str):
            missing[label] = tagger
        else:
            variants[label] = lambda s, b, tagger=tagger: tagger.predict(s, batch_size=b)
    return variants, missing


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, by the nearest rank."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def timed(run, *args) -> float:
    began = time.perf_counter()
    run(*args)
    return time.perf_counter() - began


# -- the report ----------------------------------------------------------------------------------------------------

def versions() -> str:
    found = [f"Python {platform.python_version()}"]
    for name in ("textlab", "torch", "lightning", "pytorch-crf", "onnxruntime"):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def print_report(args, argv, header: list[str], training: dict, rss: dict, overhead: dict, tagging: dict,
                 missing: dict, test_count: int) -> None:
    print(f"python scripts/benchmark_speed.py {shlex.join(argv)}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch threads: {args.threads}; {versions()}")
    print("\n".join(header))
    print(f"\nTraining: {args.train_sentences} sentences a run, median of {args.repeats} runs after a warm-up\n")
    print("| variant | batch | sentences/s | × reference | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    base = training["reference"]["sentences_per_s"]
    for name, row in training.items():
        memory = f"{rss[name]:.0f}" if name in rss else "—"
        print(f"| {row['label']} | {row['batch']} | {row['sentences_per_s']:.1f} | "
              f"{row['sentences_per_s'] / base:.2f} | {memory} |")
    print("\nLightning's overhead (the bare loop's sentences/s over Trainer.fit's, less 1): "
          + ", ".join(f"batch {batch} {100 * share:+.1f}%" for batch, share in overhead.items()))
    print(f"\nTagging: {test_count} test sentences in file order, batch 256, median of {args.repeats}; latency: "
          f"one sentence a call, the first {min(args.latency_sentences, test_count)}, over all repeats\n")
    print("| variant | sentences/s | × reference | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    base = next(iter(tagging.values()))["sentences_per_s"]
    for name, row in tagging.items():
        print(f"| {name} | {row['sentences_per_s']:.1f} | {row['sentences_per_s'] / base:.2f} | "
              f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
    for name, why in missing.items():
        print(f"| {name} | ({why}) | | | |")


def measure_training(cli, reference: tuple, args: argparse.Namespace) -> dict:
    """Variant -> its label, batch size and median sentences/s; each variant warmed up, then the runs interleaved."""
    shipped = cli.datamodule.batch_size  # the config's; the runs change the data module's
    runs = training_variants(cli, reference)
    for run in runs.values():
        run(args.warmup_sentences)
    speeds = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            sentences, seconds = run(args.train_sentences)
            speeds[name].append(sentences / seconds)
    return {name: {"label": TRAINING[name][0], "batch": TRAINING[name][1] or shipped,
                   "sentences_per_s": statistics.median(values)} for name, values in speeds.items()}


def measure_tagging(variants: dict, test: list[list[str]], args: argparse.Namespace) -> dict:
    """Name -> median sentences/s over ``test`` at batch 256, and single-sentence latency p50/p99 (ms)."""
    for tag in variants.values():
        tag(test[:256], 256)
    one_each = [[tokens] for tokens in test[:args.latency_sentences]]
    speeds = {name: [] for name in variants}
    latencies = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(args.repeats):
        # each repeat starts with another variant: on these machines a run goes slower or faster for the run
        # before it (float32 ONNX, always right after PyTorch, measured 2.2x against 4.7x for int8, which followed
        # it; in a loop of its own 5,300 sentences/s against int8's 4,700)
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            speeds[name].append(len(test) / timed(variants[name], test, 256))
        for name in order:
            latencies[name] += [timed(variants[name], sentence, 1) for sentence in one_each]
    return {name: {"sentences_per_s": statistics.median(speeds[name]),
                   "p50_ms": 1000 * percentile(sorted(latencies[name]), 0.50),
                   "p99_ms": 1000 * percentile(sorted(latencies[name]), 0.99)} for name in variants}


def training_child(args: argparse.Namespace, argv: list[str], ckpt: str | None) -> dict:
    """The training measurements, made in a child process of their own (``--training-child``): its JSON result."""
    command = [sys.executable, __file__, *argv, "--training-child", ckpt or ""]
    done = subprocess.run(command, capture_output=True, text=True)
    found = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode or not found:
        raise SystemExit(f"the training measurements failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(found[-1][len(RESULT_MARK):])


def measure_training_here(args: argparse.Namespace) -> None:
    """In the training child: build textlab and the reference, measure, save the model if asked, print the result."""
    with tempfile.TemporaryDirectory() as workdir:
        cli = build_textlab(args, workdir)
        setup = reference_setup(cli)
        reference = speed_reference.build(args.data_dir, setup["vectors"], setup["sizes"])
        freeze_imported_objects()  # as textlab's commands do (see main)
        vocab = cli.model.vocab
        words = (f"word vocabulary: textlab {len(vocab.words)} ({vocab.trainable_words or 'all'} trained), reference "
                 f"{len(reference[2]['words'])} (all trained); tags: textlab {len(vocab.tags)}, reference "
                 f"{len(reference[2]['tags'])}; vectors: {setup['vectors']}; reference sizes {setup['sizes']}")
        training = measure_training(cli, reference, args)
        if args.training_child:
            cli.trainer.save_checkpoint(args.training_child)
    print(RESULT_MARK + json.dumps({"training": training, "setup": setup, "words": words}))


def quiet_lightning() -> None:
    import lightning.pytorch  # noqa: F401 (it sets its loggers' level when imported: quieted after that)

    for name in ("lightning.pytorch", "lightning.fabric", "textlab"):  # set-up chatter, once per Trainer
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(treespec|LeafSpec).*")
    # the fit is started in-process with its own arguments, on purpose: this script's are not for it
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    # oneDNN's caches sized as textlab's commands size them, before anything runs: the size decides how often a
    # shape seen before is built anew (textlab/onednn_cache.py), and `textlab fit` keeps more entries than the
    # prediction commands and load_model. So the training runs are made in a child process with fit's sizes, the
    # tagging runs here with the prediction commands'. The reference shares each process's.
    from textlab.onednn_cache import bound_primitive_caches

    training_process = args.rss_child is not None or args.training_child is not None
    bound_primitive_caches(training=training_process)
    torch.set_num_threads(args.threads)
    if args.rss_child:  # before Lightning is imported: the reference's process never imports it
        rss_child(args)
        return {}
    quiet_lightning()
    if args.training_child is not None:
        measure_training_here(args)
        return {}
    from textlab.data.conll import iter_conll

    workdir = tempfile.TemporaryDirectory()
    ckpt = args.ckpt or os.path.join(workdir.name, "trained.ckpt")
    trained = training_child(args, argv, None if args.ckpt else ckpt)
    training, setup = trained["training"], trained["setup"]
    reference = speed_reference.build(args.data_dir, setup["vectors"], setup["sizes"])
    # as textlab's commands do: else a full garbage collection (0.2-0.3 s, walking the imports' objects) falls
    # in one run every few seconds, which variant's is chance (textlab/frozen_imports.py). The reference shares it.
    freeze_imported_objects()
    header = [f"config: {args.config} {args.textlab_args}".rstrip(), trained["words"],
              f"tagging with: {args.ckpt or 'the model trained above, a few steps (give --ckpt for figures)'}"]
    test = [s.tokens for s in iter_conll(os.path.join(args.data_dir, "test.txt")) if s.tokens][:args.limit_test]
    variants, missing = tagging_variants(ckpt, reference, workdir.name, args.threads)
    tagging = measure_tagging(variants, test, args)

    rss = {} if args.no_rss else {name: peak_training_rss(name, argv, setup) for name in TRAINING}
    overhead = {training[bare]["batch"]: training[bare]["sentences_per_s"] / training[fit]["sentences_per_s"] - 1
                for bare, fit in (("bare", "trainer"), ("bare-32", "trainer-32"))}
    print_report(args, argv, header, training, rss, overhead, tagging, missing, len(test))
    workdir.cleanup()
    return {"training": training, "rss_mb": rss, "overhead": overhead, "tagging": tagging, "missing": missing}


if __name__ == "__main__":
    main()
