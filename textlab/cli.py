"""The ``textlab`` command: a LightningCLI with fit, validate, test and predict.

What textlab adds to LightningCLI:
- the data module's vocabularies reach the model by ``link_arguments`` (configs never repeat them);
- with ``--ckpt_path`` the checkpoint is the source of truth: its model arguments and vocabularies
  are used, so ``textlab predict --ckpt_path CKPT --data.predict_file IN`` needs no config at all;
- ``fit`` tests the best checkpoint at the end when there is test data (``--test_after_fit``);
- ``test`` and ``validate`` write an evaluation report beside the run's logs, ``fit`` its learning curves
  (``--report``, textlab.callbacks.evaluation_report and learning_curves);
- ``predict`` writes each result's text form (``token<TAB>tag`` lines for a tagger, ``label<TAB>text``
  for a classifier, each with its probability under ``--confidences``; or JSON lines, ``--output_format
  jsonl``) to stdout or ``--output``, as the input (a file, or ``-``: stdin) is read, and shows its speed on
  a terminal;
- user errors (bad files, bad checkpoints) end with one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from typing import Any, Literal

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.callbacks import Checkpoint, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback

from textlab.argument_errors import TextlabArgumentParser
from textlab.callbacks.cpu_threads import CPUThreads
from textlab.callbacks.evaluation_report import EvaluationReport
from textlab.callbacks.learning_curves import LearningCurves
from textlab.callbacks.rng_state import RestoreRNGState
from textlab.callbacks.throughput import Throughput
from textlab.checkpoint import check_checkpoint_path, read_hparams
from textlab.data.datamodule import check_predict_processes
from textlab.errors import TextlabError
from textlab.exits import not_an_advert, run_reporting_errors
from textlab.frozen_imports import freeze_imported_objects
from textlab.lightning_compat import LightningInternals
from textlab.onednn_cache import bound_primitive_caches
from textlab.predict import PredictionWriter, model_class
from textlab.resume import checkpoint_into_the_resumed_folder, newest_last_checkpoint

EVALUATE = ("validate", "test", "predict")
REPORTING = ("fit", "validate", "test")  # the subcommands that write an evaluation report (--report)
log = logging.getLogger("textlab")


class TextlabCLI(LightningInternals):
    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        # Lightning advertises its cloud services on every run ("💡 Tip: ... try installing litlogger").
        # Here rather than in main() so that scripts running the CLI in-process are quiet too.
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
            logging.getLogger(name).addFilter(not_an_advert)  # once only: addFilter skips a filter it has
        super().__init__(
            LightningModule,
            LightningDataModule,
            # settings it cannot read end with one line, not the usage (see argument_errors.py)
            parser_class=TextlabArgumentParser,
            subclass_mode_model=True,
            subclass_mode_data=True,
            # the model carries its optimiser and schedule as arguments
            auto_configure_optimizers=False,
            # reproducible unless the config says otherwise
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={
                # textlab's samplers shard the data themselves: Lightning's DistributedSampler would
                # count repeated examples in validation and test metrics (see data/bucket_sampler.py)
                "use_distributed_sampler": False,
                # checkpoints are written by rename, never half-written (see textlab/checkpoint_io.py);
                # a class_path, not an instance, so the saved config.yaml can name it
                "plugins": [{"class_path": "textlab.checkpoint_io.AtomicCheckpointIO"}],
                # a resumed run draws the random numbers the uninterrupted run would have drawn
                "callbacks": [RestoreRNGState()],
            },
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.vocab", "model.init_args.vocab", apply_on="instantiate")
        parser.add_lightning_class_args(CPUThreads, "cpu_threads")

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict, subparser_kwargs: dict) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        if not add_subcommands:
            return
        # the commands main() runs before LightningCLI, which the usage would not list
        self.parser.epilog = ("more commands: textlab serve (a model behind HTTP), textlab report (an evaluation "
                              "report from a checkpoint and a data file) and textlab export (an ONNX model for "
                              "inference without PyTorch); each with --help")
        fit = self.subcommand_parser("fit")
        fit.add_argument(
            "--test_after_fit", type=bool, default=True,
            help="Test the best checkpoint (the last under --data.train_with_dev) when fit ends, if there is test data."
        )
        for name in REPORTING:
            self.subcommand_parser(name).add_argument(
                "--report", type=bool, default=True,
                help="Write an evaluation report (report.json, report.md, figures) into <stage>_report in the run's log "
                     "folder and print a short table; fit: the learning curves and the report of the test at the end.",
            )
        predict = self.subcommand_parser("predict")
        predict.add_argument("--output", type=str | None, default=None,
                             help="Where to write predictions (default, or -: stdout, flushed after every batch).")
        predict.add_argument(
            "--confidences", type=bool, default=False,
            help="Add each prediction's probability: a tagger writes token<TAB>tag<TAB>P(tag), a classifier "
                 "label<TAB>P(label)<TAB>text.",
        )
        predict.add_argument(
            "--output_format", type=Literal["text", "jsonl"], default="text",
            help="text: the lines above; jsonl: one JSON object per sentence or text (a tagger's tokens, tags and "
                 "entities with their offsets; a classifier's text and label), probabilities under --confidences.",
        )
        predict.add_argument(
            "--tag_scheme", type=Literal["IOB2", "BIOES"] | None, default=None,
            help="A tagger's tags in this scheme (null: the scheme it was trained with, BIOES for the CoNLL config).",
        )
        # Predictions are written batch by batch; keeping them all in memory too would defeat that.
        predict.set_defaults(return_predictions=False)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        argv = sys.argv[1:] if args is None else args
        if isinstance(argv, list) and argv and argv[0] in EVALUATE:
            ckpt_path = _option(argv, "--ckpt_path")
            if ckpt_path:
                self._defaults_from_checkpoint(self.subcommand_parser(argv[0]), ckpt_path)
        super().parse_arguments(parser, args)

    @staticmethod
    def _defaults_from_checkpoint(parser: LightningArgumentParser, ckpt_path: str) -> None:
        """Model and data classes from the checkpoint, so evaluating or predicting needs no config."""
        # The vocabularies are left out: the data module reads them from the checkpoint (vocab_from) and
        # the link hands them to the model. As a parser default they would be checked and dumped to YAML,
        # which took ~45 s for a 400k-word vocabulary.
        saved = read_hparams(ckpt_path)
        hparams = {k: v for k, v in saved.items() if k not in ("_instantiator", "vocab")}
        class_path = hparams.pop("_class_path", "")
        model_cls = model_class(class_path, ckpt_path)
        parser.set_defaults(
            {
                "model": {"class_path": class_path, "init_args": hparams},
                "data": {"class_path": model_cls.default_datamodule},
            }
        )
        # `textlab predict --ckpt_path CKPT --help` says how this model reads text
        parser.description = f"{ckpt_path}: {describe_input(class_path, saved.get('vocab') or {})}"

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        if self.subcommand == "fit" and config.get("ckpt_path") == "last":
            config.ckpt_path = newest_last_checkpoint(config.trainer.get("default_root_dir") or os.getcwd())
        # Trainer settings Lightning takes without a check and divides by once fit runs (ZeroDivisionError)
        for name in ("check_val_every_n_epoch", "accumulate_grad_batches"):
            value = config.trainer.get(name)
            if value is not None and value < 1:
                raise TextlabError(f"--trainer.{name} must be at least 1, not {value}")
        ckpt_path = config.get("ckpt_path")
        if self.subcommand == "fit" and ckpt_path and ckpt_path not in ("hpc", "registry"):
            check_checkpoint_path(ckpt_path)  # Lightning would fail with a traceback at the start of fit
        data_args = config.data.get("init_args")
        # "last"/"best" name checkpoints Lightning finds itself; the training data rebuilds the same vocabulary then
        is_file = bool(ckpt_path) and os.path.isfile(ckpt_path)
        if is_file and data_args is not None and "vocab_from" in data_args and not data_args.vocab_from:
            # encode with the checkpoint's vocabularies, whatever training data the config names
            data_args.vocab_from = ckpt_path
        if self.subcommand == "predict":
            # Lightning's bar writes to stdout, which may carry the predictions, and counts batches of an input of
            # unknown length: textlab's Throughput line on stderr replaces it (instantiate_trainer)
            config.trainer.enable_progress_bar = False
            config.trainer.logger = False

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except Exception as error:
            # jsonargparse reports an error from a class's __init__ as "Does not validate against any of the
            # Union subtypes", followed by the whole config (vocabularies included); the user needs our line.
            chain = []
            cause: BaseException | None = error
            while cause is not None:
                chain.append(cause)
                cause = cause.__cause__ or cause.__context__
            ours = [c for c in chain if isinstance(c, TextlabError)]
            if ours:
                raise ours[0] from None
            # A ValueError or RuntimeError at the root, while the classes are being built from the settings, is
            # a value that a class (ours, torch's or Lightning's) refused, such as dropout 1.5 or word_dim -3: a
            # setting the user wrote, not a bug. Say which part it was for.
            root = chain[-1]
            if isinstance(root, (ValueError, RuntimeError)) and len(chain) > 1:
                part = next((name for name, base in (("data", "LightningDataModule"), ("model", "LightningModule"))
                             if base in str(error)), "settings")
                raise TextlabError(f"invalid {part} setting: {root}") from None
            raise

    def instantiate_trainer(self, **kwargs: Any):
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        kwargs = {**_tqdm_progress_bar(config.trainer), **kwargs}
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ValueError as e:
            # The Trainer refuses strategy, accelerator, devices and precision that do not go together (FSDP on
            # the CPU, an unknown strategy name) with a ValueError: the user's settings, not a bug.
            raise TextlabError(f"invalid trainer setting: {str(e).strip()}") from None
        if self.subcommand != "fit":
            # The config is worth keeping beside a training run's checkpoints; for test/validate/predict
            # it would only drop a config.yaml into the working folder.
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, SaveConfigCallback)]
            # Lightning warns, loading the checkpoint, that the fit's callbacks are missing and that the
            # checkpoint folder moved. Both matter only to resuming a fit; here they would only alarm.
            for message in ("Be aware that when using `ckpt_path`", "The dirpath has changed from"):
                warnings.filterwarnings("ignore", message=message)
        if self.subcommand == "predict":
            # here, before the processes are started: each would fail alike, and say so once each
            check_predict_processes(getattr(self.datamodule, "predict_file", None), trainer.num_devices * trainer.num_nodes)
            output = self.config.predict.output
            confidences = self.config.predict.confidences
            trainer.callbacks.append(PredictionWriter(output, confidences, self.config.predict.output_format,
                                                      self.config.predict.tag_scheme))
            # predictions written to the terminal would run into a line rewritten in place: the final line only
            trainer.callbacks.append(Throughput(progress=not (output in (None, "-") and sys.stdout.isatty())))
            if hasattr(self.model, "predict_confidences"):  # a classifier's probabilities come with every prediction
                self.model.predict_confidences = confidences
        if self.subcommand == "fit":
            checkpoint_into_the_resumed_folder(trainer, self.config.fit.get("ckpt_path"))
        if self.subcommand in REPORTING and self.config[self.subcommand].report:
            _add_before_checkpoints(trainer, [EvaluationReport(), *([LearningCurves()] if self.subcommand == "fit" else [])])
        return trainer

    def before_fit(self) -> None:
        self._log_hyperparameters()
        if getattr(self.model, "ensemble", None) is not None:
            # a part fitted on the training texts before the network trains: given them, explicitly
            self.model.fit_ensemble(self.datamodule.examples("train"))

    def after_fit(self) -> None:
        config = self.config.fit
        if config.test_after_fit and self.trainer.state.status == "finished" and self._has_test_data():
            # the checkpoint callback that monitors a metric keeps the best epoch; others keep the last. Under
            # train_with_dev that metric is measured on training sentences, so the model as trained is tested.
            best = next((cb.best_model_path for cb in self.trainer.checkpoint_callbacks if cb.monitor), "")
            if getattr(self.datamodule, "train_with_dev", False):
                best = ""
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)

    def _has_test_data(self) -> bool:
        has = getattr(self.datamodule, "has_split", None)
        return bool(has and has("test"))

    def _log_hyperparameters(self) -> None:
        """Log the model's arguments with the vocabularies shown by their sizes only."""
        hparams = dict(self.model.hparams)
        vocab = hparams.pop("vocab", None) or {}
        sizes = {"words", "chars", "tags", "labels"}  # the vocabularies, not other per-label lists
        hparams.update({f"vocab/{k}": len(v) for k, v in vocab.items() if k in sizes and isinstance(v, list)})
        for logger in self.trainer.loggers:
            logger.log_hyperparams(hparams)


def _tqdm_progress_bar(trainer_config) -> dict:
    """Trainer arguments that keep Lightning's tqdm progress bar: with rich installed (the report's table needs it)
    Lightning would draw a rich one, and a one-line error must start a line of its own after an open tqdm bar
    (textlab.exits). A progress bar the config names, or none, stays as it is."""
    if trainer_config.get("enable_progress_bar") is False or trainer_config.get("barebones"):
        return {}
    callbacks = trainer_config.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    if any(isinstance(c, ProgressBar) for c in callbacks):
        return {}
    return {"callbacks": [*callbacks, TQDMProgressBar()]}


def _add_before_checkpoints(trainer, callbacks: list) -> None:
    """Lightning runs the checkpoint callbacks last, so that they save what the others have done in the same hook
    (the learning curves' row of the epoch); added after the Trainer was built, ours must go before them too."""
    first = next((i for i, c in enumerate(trainer.callbacks) if isinstance(c, Checkpoint)), len(trainer.callbacks))
    trainer.callbacks[first:first] = callbacks


def describe_input(class_path: str, vocab: dict) -> str:
    """What a checkpoint's model is and how it reads text, in a sentence or two."""
    model = class_path.rpartition(".")[2]
    tokenizer = vocab.get("tokenizer") or ("syntok" if "tags" in vocab else "whitespace")
    reads = {
        "syntok": "plain text is cut into sentences (a line break ends one) and tokens by syntok, as CoNLL-2003 "
                  "tokenises",
        "whitespace": "plain text is read one pre-tokenised text a line, tokens split on whitespace",
        "basic": "plain text is read one text a line, punctuation and clitics split off",
    }.get(tokenizer, f"plain text is tokenised by {tokenizer}")
    if "tags" in vocab:
        types = sorted({t.split("-", 1)[1] for t in vocab["tags"] if "-" in t})
        what = f"a {model} tagging {', '.join(types)} ({vocab.get('tag_scheme')} tags)"
        formats = "--data.predict_format: text (default for plain text), tokenized (one sentence a line), jsonl " \
                  '({"text": ...} a line), conll'
    else:
        what = f"a {model} with the labels {', '.join(map(str, vocab.get('labels', [])))}"
        formats = "--data.predict_format: text (a text a line), jsonl ({\"text\": ...} a line)"
    return f"{what}; {reads} (tokenizer: {tokenizer}). {formats}."


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# Commands that are not a Trainer method, each with its own parser in its own module (``main(args)``).
COMMANDS = {"serve": "textlab.serve.command", "report": "textlab.report.command", "export": "textlab.export.command"}


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else args
    # before any model runs: a long run's memory would otherwise grow; training keeps more (see there)
    bound_primitive_caches(training=argv[:1] == ["fit"])
    if argv and argv[0] in COMMANDS:
        command = importlib.import_module(COMMANDS[argv[0]])
        freeze_imported_objects()  # a full garbage collection would walk them all, every few seconds (see there)
        run_reporting_errors(command.main, argv[1:])
        return
    freeze_imported_objects()
    run_reporting_errors(TextlabCLI, args)


if __name__ == "__main__":
    main()
