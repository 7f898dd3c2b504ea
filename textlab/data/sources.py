"""Where labelled data comes from, as the data modules' ``files`` and ``class_files`` parts: CoNLL files for
tagging; CSV/TSV/JSONL files, or one line file per class, for classification. (Hugging Face datasets: hub.py.)

Each part is a dataclass that jsonargparse builds from its YAML block; a source that is not given is null,
so its options cannot be written at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from textlab.data.classification_readers import EXTENSIONS, Example, FileFormat, read_file, read_lines
from textlab.errors import DataFormatError, TextlabError

Split = Literal["train", "val", "test"]
# data_dir layouts: the file names of the CoNLL-2003 distribution; train/valid/test files in a reader's format
CONLL_FILES = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}
LABELLED_STEMS = {"train": ("train",), "val": ("valid", "val", "dev", "validation"), "test": ("test",)}


@dataclass
class ConllFiles:
    """CoNLL files to tag: one token a line with its tag in a column, a blank line between sentences.

    Args:
        data_dir: a folder with train.txt, valid.txt and test.txt (the CoNLL-2003 layout); files given one
            by one take precedence.
        train_file: CoNLL file to train on.
        val_file: CoNLL file for validation (model selection).
        test_file: CoNLL file for the test.
        tag_column: which column holds the tags (Python index; -1 is the last); also in a CoNLL predict_file.
        encoding: text encoding of these files and of the predict_file.
        cache_dir: for corpora too large to hold in every process: stream the files once into a vocabulary
            file and Arrow files here, which all processes memory-map and later runs with the same files and
            options reuse.
    """

    data_dir: str | None = None
    train_file: str | None = None
    val_file: str | None = None
    test_file: str | None = None
    tag_column: int = -1
    encoding: str = "utf-8"
    cache_dir: str | None = None

    def path(self, split: Split) -> str | None:
        """The split's file: the one given, else the data_dir's if it is there."""
        given = getattr(self, f"{split}_file")
        if given:
            return given
        if self.data_dir:
            path = os.path.join(self.data_dir, CONLL_FILES[split])
            if os.path.isfile(path):
                return path
        return None


@dataclass
class LabelledFiles:
    """Labelled texts in CSV, TSV or JSONL files, one text with its label a row.

    Args:
        data_dir: a folder with train.*, valid.* (or val/dev) and test.* files; files given one by one take
            precedence.
        train_file: labelled texts to train on.
        val_file: labelled texts for validation (model selection); split off the training data if absent.
        test_file: labelled texts for the test; split off the training data if neither val nor test is given.
        format: auto (from the extension: .csv, .tsv, .jsonl/.json), csv, tsv, jsonl, or text (prediction
            input only: one text a line).
        text_column: the CSV/TSV column or JSONL field holding the text (also of the predict_file).
        label_column: the column or field holding the label (a string or an integer).
        header: CSV/TSV files start with a header line; without one, columns are named "0", "1", ...
        encoding: text encoding of these files and of the predict_file.
    """

    data_dir: str | None = None
    train_file: str | None = None
    val_file: str | None = None
    test_file: str | None = None
    format: FileFormat = "auto"
    text_column: str = "text"
    label_column: str = "label"
    header: bool = True
    encoding: str = "utf-8"

    def path(self, split: Split) -> str | None:
        """The split's file: the one given, else the data_dir's in a format the readers know."""
        given = getattr(self, f"{split}_file")
        if given:
            return given
        if self.data_dir and os.path.isdir(self.data_dir):
            for name in sorted(os.listdir(self.data_dir)):
                stem, ext = os.path.splitext(name)
                if stem in LABELLED_STEMS[split] and ext.lower() in EXTENSIONS:
                    return os.path.join(self.data_dir, name)
        return None

    def read(self, split: Split) -> list[Example] | None:
        """The split's labelled examples; None when there is no file for it."""
        path = self.path(split)
        if path is None:
            return None
        if not os.path.isfile(path):
            raise TextlabError(f"{path}: no such file (--data.files.{split}_file)")
        examples = read_file(path, self.format, self.text_column, self.label_column, self.encoding, self.header)
        if not examples:
            raise DataFormatError(path, None, "no examples: the file holds no labelled text")
        return examples


@dataclass
class ClassFiles:
    """One line file per class, together the training data (the MR layout); the file's class is its label.

    Args:
        files: ``{label: file}``, e.g. ``{pos: rt-polarity.pos, neg: rt-polarity.neg}``.
        data_dir: the folder the file names are relative to.
        encoding: text encoding of the files (MR: latin-1).
    """

    files: dict[str, str]
    data_dir: str | None = None
    encoding: str = "utf-8"

    def read(self) -> list[Example]:
        examples = []
        for label, name in self.files.items():
            path = os.path.join(self.data_dir, name) if self.data_dir and not os.path.isabs(name) else name
            if not os.path.isfile(path):
                where = f" in --data.class_files.data_dir {self.data_dir}" if self.data_dir else ""
                raise TextlabError(f"{path}: no such file (class {label!r} of --data.class_files.files{where})")
            texts = read_lines(path, str(label), self.encoding, encoding_option="--data.class_files.encoding")
            if not texts:
                raise DataFormatError(path, None, f"no texts: expected one text a line (class {label!r} of "
                                                  "--data.class_files.files)")
            examples += texts
        return examples
