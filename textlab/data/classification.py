"""The LightningDataModule for sentence classification.

Data flows one way: source -> ``Example`` lists (text, label, file, line) -> splits (given, or made
seeded and stratified, or the k-fold split of one data set) -> vocabulary (from the training split,
or from a checkpoint) -> encoded examples -> ``ClassificationBatch``.

Sources (parts, each null unless given): CSV/TSV/JSONL files with configurable text and label columns
(``files``); one line file per class, the MR layout (``class_files``); a Hugging Face dataset (``hub``).
The toy module generates its own.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from typing import Literal

from textlab.checkpoint import read_hparams
from textlab.data.classification_batch import (
    ClassificationBatch, EncodedExample, collate_classification, encode_example,
)
from textlab.data.classification_readers import Example
from textlab.data.datamodule import TextDataModule
from textlab.data.hub import ClassificationHub
from textlab.data.prediction_input import (
    CLASSIFICATION_FORMAT_NAMES, classification_format_by_extension, classification_texts, guess_classification_format,
)
from textlab.data.sources import ClassFiles, LabelledFiles, Split
from textlab.data.splits import Splits, kfold_split, stratified_split
from textlab.data.text_files import LineSource
from textlab.data.plain_text import tokenize
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.vectors import load_vectors
from textlab.data.vocab import ClassificationVocab, ClassificationWords, Vocab, WordVocab
from textlab.errors import DataFormatError, TextlabError

log = logging.getLogger("textlab")

DEFAULT_SPLITS = Splits()
DEFAULT_WORDS = ClassificationWords()


class ClassificationDataModule(TextDataModule):
    def __init__(
        self,
        files: LabelledFiles | None = None,
        class_files: ClassFiles | None = None,
        hub: ClassificationHub | None = None,
        words: ClassificationWords = DEFAULT_WORDS,
        splits: Splits = DEFAULT_SPLITS,
        predict_file: str | None = None,
        predict_format: Literal["auto", "text", "jsonl", "csv", "tsv"] = "auto",
        vocab_from: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        bucket: bool = True,
        num_workers: int = 0,
    ) -> None:
        """
        Args:
            files: labelled CSV, TSV or JSONL files (or a folder of them); the predict_file is read as they are.
            class_files: one line file per class, together the training data (the MR layout); val and test
                data may come from ``files`` or ``hub``.
            hub: a Hugging Face dataset with text and label columns, for the splits no file gives.
            words: how texts are split into words and the word vocabulary is built.
            splits: how missing validation and test data are split off the training data (or k folds made),
                and whether to train on the validation data too.
            predict_file: texts to classify (``-``: standard input), read as they are classified, so the input may
                be larger than memory: one a line, JSON lines (``{"text": ..., "id": ...}`` a line, the text under
                the files' text_column; the id, optional, is carried to the output), or CSV/TSV with the text column.
            predict_format: ``text``, ``jsonl``, ``csv``, ``tsv``, or ``auto``: the files' format if given, else the
                file's extension (.csv, .tsv, .jsonl), else JSON lines if the first line is a JSON object, one
                text a line otherwise.
            vocab_from: a checkpoint whose vocabulary to use instead of building it from the training
                data (textlab sets this from ``--ckpt_path``).
            batch_size: texts per training batch.
            eval_batch_size: texts per validation, test and prediction batch.
            bucket: batch training texts of similar length together (batch order still shuffled).
            num_workers: DataLoader worker processes.
        """
        super().__init__(batch_size, eval_batch_size, bucket, num_workers)
        self.files, self.class_files, self.hub = files, class_files, hub
        self.words, self.splits = words, splits
        self.predict_file, self.predict_format = predict_file, predict_format
        self.vocab_from = vocab_from
        # class_files are read first: a train_file beside them would never be read
        if class_files and files and files.train_file:
            raise TextlabError(f"--data.files.train_file {files.train_file} and --data.class_files both name the "
                               "training data: give one of them")

    @property
    def train_with_dev(self) -> bool:
        return self.splits.train_with_dev

    @property
    def add_pretrained_words(self) -> str | None:
        return self.words.add_pretrained_words

    # -- sources -> examples ----------------------------------------------------------------------

    def _read_source(self, split: Split) -> list[Example] | None:
        """The split's examples as its own source gives them; None when there is no such source."""
        if split == "train" and self.class_files:
            return self.class_files.read()
        examples = self.files.read(split) if self.files else None
        if examples is not None:
            return examples
        if self.hub:
            return self._from_hub(self.hub.examples, split)
        if split == "train":
            raise TextlabError(self._no_data_message())
        return None

    def _has_file(self, split: Split) -> bool:
        return bool(self.files and self.files.path(split))

    def _has_train_source(self) -> bool:
        return bool(self.class_files or self._has_file("train") or self.hub)

    def _no_data_message(self) -> str:
        data_dir = self.files.data_dir if self.files else None
        if data_dir and not os.path.isdir(data_dir):
            where = f"no folder {data_dir} (--data.files.data_dir)"
        elif data_dir:
            where = f"no train.csv, train.tsv or train.jsonl in {data_dir}"
        else:
            where = "no training data given (--data.files.train_file, --data.class_files or --data.files.data_dir)"
        hub = f" and the Hugging Face dataset {self.hub.name!r} could not be loaded" if self.hub else ""
        return f"{where}{hub}"

    @cached_property
    def _splits(self) -> dict[str, list[Example]]:
        """Every split's examples, with the validation ones also among the training ones under ``train_with_dev``."""
        splits = self._read_splits()
        if self.train_with_dev and splits["train"]:
            if not splits["val"]:
                raise TextlabError("--data.splits.train_with_dev: no validation data to add to the training data")
            log.warning("train_with_dev: the %d validation examples are training examples too, so val/ scores "
                        "measure fit and do not pick a model; use last.ckpt", len(splits["val"]))
            splits = {**splits, "train": splits["train"] + splits["val"]}
        return splits

    def _read_splits(self) -> dict[str, list[Example]]:
        """Every split's examples: read, then the missing splits made from the training data."""
        if self.vocab_from and not self._has_train_source():
            # evaluating a checkpoint on a val or test file alone: nothing to train on, nothing to split
            return {"train": [], "val": self._read_source("val") or [], "test": self._read_source("test") or []}
        train = self._read_source("train")
        if self.splits.num_folds is not None:
            return self._fold(train)
        s = self.splits
        val, test = self._read_source("val"), self._read_source("test")
        fractions = [
            s.val_fraction if val is None else 0.0,
            s.test_fraction if val is None and test is None else 0.0,
        ]
        wheres = [None if given is None else given[0].where if given else "none" for given in (val, test)]
        s.warn_unused(*wheres, any(fractions))
        if any(fractions):
            parts = stratified_split([e.label for e in train], [1 - sum(fractions)] + fractions, s.split_seed)
            made = [[train[i] for i in part] for part in parts]
            train, val, test = made[0], (made[1] if val is None else val), (made[2] if test is None else test)
            log.info("split the training data (seed %d): %d train, %d val, %d test",
                     s.split_seed, len(train), len(val), len(test))
        return {"train": train, "val": val or [], "test": test or []}

    def _fold(self, train: list[Example]) -> dict[str, list[Example]]:
        """k-fold cross-validation: fold ``fold`` is the test set, ``val_fraction`` of the rest validates."""
        s, k = self.splits, self.splits.num_folds
        for split in ("val", "test"):
            from_hub = self.hub and not self.class_files and self._from_hub(self.hub.examples, split)
            if self._has_file(split) or from_hub:
                raise TextlabError(f"--data.splits.num_folds cross-validates one data set: give no separate "
                                   f"{split} data")
        if len(train) < k:
            raise TextlabError(f"--data.splits.num_folds {k} needs at least {k} texts; the data has {len(train)}")
        if s.test_fraction != DEFAULT_SPLITS.test_fraction:
            log.warning("--data.splits.test_fraction %s: no effect with --data.splits.num_folds, where fold %d is the "
                        "test set (ignored); remove it", s.test_fraction, s.fold)
        folds = kfold_split([e.label for e in train], k, s.split_seed)
        test = [train[i] for i in folds[s.fold]]
        rest = [train[i] for i in sorted(i for f, fold in enumerate(folds) if f != s.fold for i in fold)]
        keep, val = stratified_split([e.label for e in rest], [1 - s.val_fraction, s.val_fraction], s.split_seed)
        log.info("fold %d of %d: %d train, %d val, %d test", s.fold, k, len(keep), len(val), len(test))
        return {"train": [rest[i] for i in keep], "val": [rest[i] for i in val], "test": test}

    def examples(self, split: Split) -> list[Example]:
        return self._splits[split]

    def has_split(self, split: Split) -> bool:
        return bool(self.examples(split))

    # -- vocabulary ------------------------------------------------------------------------------------

    @cached_property
    def vocab(self) -> dict:
        """The vocabulary as a plain dict (linked to the model's ``vocab`` argument by the CLI)."""
        w = self.words
        if self.vocab_from:
            saved = read_hparams(self.vocab_from)["vocab"]
            self._warn_overruled(saved, [(f"words.{name}", getattr(w, name), getattr(DEFAULT_WORDS, name), key)
                                         for name, key in (("tokenizer", "tokenizer"), ("max_tokens", "max_tokens"),
                                                           ("lowercase", "lowercase"), ("normalize_digits", "digits"))])
            return saved
        train = self.examples("train")
        if not train:
            raise TextlabError("no training examples")
        token_lists = [tokenize(e.text, w.tokenizer)[: w.max_tokens or None] for e in train]
        words = WordVocab.from_tokens(token_lists, w.min_word_freq, w.lowercase, w.normalize_digits)
        before = None
        if w.add_pretrained_words:
            before = len(words)
            pretrained = load_vectors(w.add_pretrained_words).words
            if w.pretrained_words_scope == "data":
                known = set(pretrained)
                texts = (e for split in ("train", "val", "test") for e in self.examples(split))
                seen = sorted({words.key(t) for e in texts for t in tokenize(e.text, w.tokenizer)} - set(words.stoi))
                pretrained = [word for word in seen if word in known or word.lower() in known]
            words = words.extend(pretrained)
            log.info("word vocabulary: %d from training + %d pretrained-only words", before, len(words) - before)
        counts = Counter(e.label for e in train)
        if len(counts) < 2:
            raise TextlabError(self._single_label_message(train, counts))
        labels = Vocab(sorted(counts), specials=False)
        label_counts = [counts[lab] for lab in labels.itos]
        vocab = ClassificationVocab(words, labels, w.tokenizer, w.max_tokens, label_counts, trainable_words=before)
        return vocab.to_dict()

    def _single_label_message(self, train: list[Example], counts: Counter) -> str:
        (label,) = counts
        if self.splits.num_folds is not None:
            everything = Counter(e.label for split in ("train", "val", "test") for e in self.examples(split))
            found = ", ".join(f"{lab} {n}" for lab, n in sorted(everything.items()))
            return (f"fold {self.splits.fold} of --data.splits.num_folds {self.splits.num_folds}: its training part "
                    f"holds a single label ({label!r}); a classifier needs at least two (the whole data: {found})")
        sources = ", ".join(dict.fromkeys(e.where for e in train))
        return f"{sources}: the training data holds a single label ({label!r}); a classifier needs at least two"

    # -- examples -> ids -> batches ----------------------------------------------------------------

    def setup(self, stage: str) -> None:
        vocab = ClassificationVocab.from_dict(self.vocab)
        # fit encodes the test split too: a test label unseen in training stops the run before training
        wanted = {"fit": ["train", "val", "test"], "validate": ["val"], "test": ["test"], "predict": []}[stage]
        for split in wanted:
            if split not in self.datasets:
                self.datasets[split] = self._encode(self.examples(split), vocab)
        if stage == "predict":
            self._predict_vocab = vocab
            source = self._open_predict_input(self._predict_reading().encoding)
            self._predict_form = self._read_predict_as(source)
        if stage in ("validate", "test") and not self.datasets[wanted[0]]:
            raise TextlabError(f"no {wanted[0]} data: give --data.files.{wanted[0]}_file, --data.files.data_dir "
                               "or --data.hub")

    @staticmethod
    def _encode(examples: list[Example], vocab: ClassificationVocab) -> list[EncodedExample]:
        for e in examples:
            if e.label not in vocab.labels:
                raise DataFormatError(
                    e.where, e.line,
                    f"label {e.label!r} never occurs in the training data (labels: {', '.join(vocab.labels.itos)})",
                )
        return [encode_example(e.text, e.label, vocab) for e in examples]

    def _predict_reading(self) -> LabelledFiles:
        """How the prediction input is read: as the labelled files are; beside class files, in their encoding."""
        return self.files or LabelledFiles(encoding=self.class_files.encoding if self.class_files else "utf-8")

    def _read_predict_as(self, source: LineSource) -> str:
        """The format the prediction input is read in: ``predict_format``, the files' format, the file's
        extension, or the guess from its first line."""
        if self.predict_format != "auto":
            return self.predict_format
        given = self._predict_reading().format
        if given != "auto":
            return given
        by_extension = classification_format_by_extension(source)
        if by_extension:
            return by_extension
        form = guess_classification_format(source)
        read_as = CLASSIFICATION_FORMAT_NAMES[form]
        self._log_once("%s: read as %s (--data.predict_format text|jsonl|csv|tsv to read it otherwise)",
                       source.name, read_as)
        return form

    def _predict_texts(self) -> Iterator[Example]:
        """The texts to classify, read as they are needed."""
        reading = self._predict_reading()
        return classification_texts(self._predict_source, self._predict_form, reading.text_column, reading.header)

    def _predict_examples(self) -> Iterator[EncodedExample]:
        # encoded before batching: the padding budget needs each text's tokens
        vocab = self._predict_vocab
        return (encode_example(e.text, None, vocab, e.id) for e in self._predict_texts())

    def _predict_length(self, example: EncodedExample) -> int:
        return len(example.words)

    def _predict_batch(self, examples: list[EncodedExample]) -> ClassificationBatch:
        return collate_classification(examples)

    def collate(self, examples: list[EncodedExample]) -> ClassificationBatch:
        return collate_classification(examples)


class ToyClassificationDataModule(ClassificationDataModule):
    """The generated toy review set (positive/negative/neutral, with negation and contrast)."""

    def __init__(self, seed: int = 0, num_train: int = 3000, num_val: int = 500, num_test: int = 500,
                 splits: Splits = DEFAULT_SPLITS, **kwargs) -> None:
        """
        Args:
            seed: the generator's seed; the same seed always gives the same texts.
            num_train: training texts.
            num_val: validation texts.
            num_test: test texts.
            splits: k folds of the generated training texts, and whether to train on the validation texts too
                (the generated val and test sets are num_val and num_test texts: no fractions without folds).
            **kwargs: the ClassificationDataModule options other than its sources (batch size, words,
                predict_file, ...).
        """
        # the toy set comes as train, val and test parts: only k-fold cross-validation splits it further
        for name in ("val_fraction", "test_fraction"):
            if getattr(splits, name) != getattr(DEFAULT_SPLITS, name) and (
                    name == "test_fraction" or splits.num_folds is None):
                raise TextlabError(f"--data.splits.{name}: the toy set's validation and test sets are --data.num_val "
                                   "and --data.num_test texts (val_fraction applies with --data.splits.num_folds only)")
        super().__init__(files=None, class_files=None, hub=None, splits=splits, **kwargs)
        self.toy = dict(seed=seed, num_train=num_train, num_val=num_val, num_test=num_test)

    def _has_train_source(self) -> bool:
        return True

    def _read_source(self, split: Split) -> list[Example] | None:
        where = f"toy classification set ({split})"
        return [Example(t, label, where, i) for i, (t, label) in enumerate(self._generated[split], start=1)]

    @cached_property
    def _generated(self) -> dict[str, list[tuple[str, str]]]:
        return generate_toy_classification(**self.toy)
