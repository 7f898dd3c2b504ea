"""``textlab report --ckpt_path CKPT --data FILE [--output DIR] [--train FILE]``: a checkpoint's evaluation report on a
labelled file, without a config.

The checkpoint's model is tested as ``textlab test`` tests it, on the data module it was trained with, which reads
``--data`` (and ``--train``) with the checkpoint's vocabularies and tag scheme; the ``EvaluationReport`` callback
writes the report. So the numbers are those ``textlab test`` would log on the same file.
"""

from __future__ import annotations

import logging
import os

from lightning.pytorch import Trainer

from textlab.callbacks.evaluation_report import EvaluationReport
from textlab.checkpoint import check_checkpoint_path
from textlab.command_settings import parse_settings
from textlab.data import ClassificationDataModule, ConllFiles, LabelledFiles, TaggingDataModule
from textlab.errors import TextlabError
from textlab.exits import not_an_advert
from textlab.models import TextClassifier
from textlab.predict import load_model
from textlab.report.settings import CLASSIFIER_OPTIONS, ReportSettings


def main(argv: list[str] | None = None) -> None:
    settings = parse_settings(ReportSettings, "textlab report", argv)
    check_checkpoint_path(settings.ckpt_path)
    for option, path in (("--data", settings.data), ("--train", settings.train)):
        if path is not None and not os.path.isfile(path):
            raise TextlabError(f"{path}: no such file ({option})")
    if os.path.exists(settings.output) and not os.path.isdir(settings.output):
        raise TextlabError(f"--output {settings.output}: a file, not a folder to write the report into")
    model = load_model(settings.ckpt_path)
    datamodule = _datamodule(model, settings)
    if settings.train:
        datamodule.sentences("train")  # read now, so that a malformed file is an error, not a skipped part
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(not_an_advert)
    report = EvaluationReport(settings.output, settings.worst, settings.bins, data=settings.data,
                              checkpoint=settings.ckpt_path, no_training_data="no training data given (--train FILE)")
    try:
        trainer = Trainer(accelerator=settings.accelerator, devices=1, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, callbacks=[report],
                          # the data module's sampler shards and orders the data itself (see textlab.cli)
                          use_distributed_sampler=False)
    except (ValueError, RuntimeError) as e:  # an accelerator that is unknown or not on this machine
        raise TextlabError(f"--accelerator {settings.accelerator}: {str(e).strip()}") from None
    trainer.test(model, datamodule=datamodule, verbose=False)


def _datamodule(model, settings: ReportSettings) -> TaggingDataModule | ClassificationDataModule:
    """The model's data module, reading ``--data`` as its test split with the checkpoint's vocabularies."""
    given = [name for name in CLASSIFIER_OPTIONS if getattr(settings, name) is not None]
    if isinstance(model, TextClassifier):
        if settings.train:
            raise TextlabError("--train: seen and unseen entities are for a tagger; this checkpoint is a classifier")
        defaults = LabelledFiles()
        files = LabelledFiles(test_file=settings.data, encoding=settings.encoding,
                              **{name: getattr(settings, name) if getattr(settings, name) is not None
                                 else getattr(defaults, name) for name in CLASSIFIER_OPTIONS})
        return ClassificationDataModule(files=files, vocab_from=settings.ckpt_path, eval_batch_size=settings.batch_size)
    if given:
        raise TextlabError(f"--{given[0]}: for a classifier's data; this checkpoint is a tagger, which reads CoNLL "
                           "(--tag_column, --encoding)")
    files = ConllFiles(train_file=settings.train, test_file=settings.data, tag_column=settings.tag_column,
                       encoding=settings.encoding)
    return TaggingDataModule(files=files, vocab_from=settings.ckpt_path, eval_batch_size=settings.batch_size)
