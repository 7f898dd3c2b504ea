"""What ``textlab report`` is told: the checkpoint, the labelled data, and how to read it. The options and their
``--help``."""

from __future__ import annotations

from dataclasses import dataclass

from textlab.data.classification_readers import FileFormat
from textlab.errors import TextlabError

# the options for a classifier's data, unset (None) unless given: a tagger's checkpoint refuses them
CLASSIFIER_OPTIONS = ("format", "text_column", "label_column", "header")


@dataclass(frozen=True)
class ReportSettings:
    """Write the evaluation report of a checkpoint on a labelled data file, without a config.

    Args:
        ckpt_path: The checkpoint to evaluate (a tagger's or a classifier's, as textlab fit writes it).
        data: The labelled data: for a tagger a CoNLL file (a token and its tag a line, a blank line between
            sentences, tags in IOB1, IOB2 or BIOES); for a classifier a CSV, TSV or JSONL file with a text and a
            label column.
        output: The folder to write report.json, report.md and the figures into (made if needed).
        train: A tagger's training data (CoNLL), for scores on the entities seen and unseen in training;
            null: that part is skipped.
        worst: How many of the sentences with the most errors (a tagger) or of the most confident mistakes (a
            classifier) to list.
        bins: Confidence bins of the reliability diagram and the expected calibration error.
        batch_size: Sentences or texts per batch.
        accelerator: Where the model runs: auto (a GPU if there is one), cpu, gpu, ...
        tag_column: The CoNLL column that holds the tags (Python index; -1 is the last), in data and train.
        encoding: The text encoding of the data files.
        format: A classifier's data format: auto (from the extension), csv, tsv or jsonl (default auto).
        text_column: The CSV/TSV column or JSONL field with a classifier's text (default text).
        label_column: The column or field with a classifier's label (default label).
        header: Whether a classifier's CSV/TSV data starts with a header line (default true; without one,
            columns are named 0, 1, ...).
    """

    ckpt_path: str
    data: str
    output: str = "report"
    train: str | None = None
    worst: int = 10
    bins: int = 10
    batch_size: int = 128
    accelerator: str = "auto"
    tag_column: int = -1
    encoding: str = "utf-8"
    format: FileFormat | None = None
    text_column: str | None = None
    label_column: str | None = None
    header: bool | None = None

    def __post_init__(self) -> None:
        if self.worst < 0:
            raise TextlabError(f"--worst {self.worst}: must be 0 or more")
        for name in ("bins", "batch_size"):
            if getattr(self, name) < 1:
                raise TextlabError(f"--{name} {getattr(self, name)}: must be at least 1")
