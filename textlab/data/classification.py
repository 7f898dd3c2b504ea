"""The LightningDataModule for sentence classification.

Data flows one way: source -> ``Example`` lists (text, label, file, line) -> splits (given, or made
seeded and stratified, or the k-fold split of one data set) -> vocabulary (from the training split,
or from a checkpoint) -> encoded examples -> ``ClassificationBatch``.

Sources: the generated toy set; CSV/TSV/JSONL files with configurable text and label columns; one
line file per class (the MR layout: ``rt-polarity.pos``, ``rt-polarity.neg``); a Hugging Face dataset.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections import Counter
from functools import cached_property
from typing import Literal

from textlab.checkpoint import read_hparams
from textlab.data.classification_batch import (
    ClassificationBatch,
    ClassificationVocab,
    EncodedExample,
    Tokenizer,
    collate_classification,
    encode_example,
    tokenize,
)
from textlab.data.classification_readers import EXTENSIONS, Example, FileFormat, check_label, check_text, read_file, read_lines
from textlab.data.datamodule import TextDataModule
from textlab.data.splits import kfold_split, stratified_split
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.vectors import load_vectors
from textlab.data.vocab import Vocab, WordVocab
from textlab.errors import DataFormatError, TextlabError

log = logging.getLogger("textlab")

Split = Literal["train", "val", "test"]
# data_dir layout: train/valid/test files in one of the readers' formats
DATA_DIR_STEMS = {"train": ("train",), "val": ("valid", "val", "dev", "validation"), "test": ("test",)}


class ClassificationDataModule(TextDataModule):
    def __init__(
        self,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        data_dir: str | None = None,
        class_files: dict[str, str] | None = None,
        predict_file: str | None = None,
        train_with_dev: bool = False,
        hf_dataset: str | None = None,
        hf_config: str | None = None,
        file_format: FileFormat = "auto",
        text_column: str = "text",
        label_column: str = "label",
        header: bool = True,
        encoding: str = "utf-8",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        num_folds: int | None = None,
        fold: int = 0,
        tokenizer: Tokenizer = "whitespace",
        lowercase: bool = False,
        normalize_digits: bool = False,
        max_tokens: int | None = None,
        min_word_freq: int = 1,
        add_pretrained_words: str | None = None,
        pretrained_words_scope: Literal["all", "data"] = "all",
        vocab_from: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        bucket: bool = True,
        num_workers: int = 0,
    ) -> None:
        """
        Args:
            train_file: labelled texts to train on: CSV, TSV or JSONL (format from the extension, or
                ``file_format``).
            val_file: labelled texts for validation (model selection); split off the training data if absent.
            test_file: labelled texts for the test; split off the training data if neither val nor test is given.
            train_with_dev: train on the validation examples too (flair's ``train_with_dev``), also when they
                were split off the training data. Validation still runs on them, so its scores measure fit
                and no longer pick a model: train a fixed number of epochs and use ``last.ckpt``.
            data_dir: a folder with train.*, valid.* (or val/dev) and test.* files; with ``class_files``
                the folder those names are relative to. Files given one by one take precedence.
            class_files: one line file per class, ``{label: file}``, e.g. the MR layout
                ``{pos: rt-polarity.pos, neg: rt-polarity.neg}``; together they are the training data.
            predict_file: texts to classify: one a line, or CSV/TSV/JSONL with ``text_column``.
            hf_dataset: a Hugging Face dataset name (or a folder written by ``save_to_disk``) with text and
                label columns; used when no files are given.
            hf_config: the dataset's configuration name, if it has several.
            file_format: auto (from the extension: .csv, .tsv, .jsonl/.json), csv, tsv, jsonl, or text
                (prediction input only: one text a line).
            text_column: the CSV/TSV column, JSONL field or dataset column holding the text.
            label_column: the column or field holding the label (a string or an integer).
            header: CSV/TSV files start with a header line; without one, columns are named "0", "1", ...
            encoding: text encoding of the input files (MR: latin-1).
            val_fraction: share of the training data held out for validation when no val data is given.
            test_fraction: share of the training data held out for the test when neither val nor test
                data is given (the one-file case).
            split_seed: seed of the stratified splits and folds (independent of the training seed).
            num_folds: k-fold cross-validation of one data set: fold ``fold`` is the test set,
                ``val_fraction`` of the rest the validation set (stratified, seeded).
            fold: with ``num_folds``: which fold (0 .. num_folds - 1) is the test set.
            tokenizer: whitespace (pre-tokenised text) or basic (also splits off punctuation).
            lowercase: store words lower-cased in the word vocabulary.
            normalize_digits: store words with every digit replaced by 0.
            max_tokens: keep only the first this many tokens of a text (null: all).
            min_word_freq: training words seen fewer times map to <unk>.
            add_pretrained_words: pretrained vectors (a file or ``glove-6b-50d``) whose words join the
                word vocabulary, so words unseen in training keep their pretrained vectors.
            pretrained_words_scope: ``all`` adds every pretrained word; ``data`` only those occurring in the
                texts of any split (labels unused), as Kim (2014) built his vocabulary: a much smaller
                embedding matrix, but words first seen at prediction time stay <unk>.
            vocab_from: a checkpoint whose vocabulary to use instead of building it from the training
                data (textlab sets this from ``--ckpt_path``).
            batch_size: texts per training batch.
            eval_batch_size: texts per validation, test and prediction batch.
            bucket: batch training texts of similar length together (batch order still shuffled).
            num_workers: DataLoader worker processes.
        """
        super().__init__(batch_size, eval_batch_size, bucket, num_workers)
        self.files = {"train": train_file, "val": val_file, "test": test_file}
        self.data_dir = data_dir
        self.class_files = dict(class_files) if class_files else None
        self.predict_file = predict_file
        self.train_with_dev = train_with_dev
        self.hf_dataset, self.hf_config = hf_dataset, hf_config
        self.file_format = file_format
        self.text_column, self.label_column, self.header = text_column, label_column, header
        self.encoding = encoding
        self.val_fraction, self.test_fraction, self.split_seed = val_fraction, test_fraction, split_seed
        self.num_folds, self.fold = num_folds, fold
        self.tokenizer, self.lowercase, self.normalize_digits = tokenizer, lowercase, normalize_digits
        self.max_tokens, self.min_word_freq = max_tokens, min_word_freq
        self.add_pretrained_words, self.pretrained_words_scope = add_pretrained_words, pretrained_words_scope
        self.vocab_from = vocab_from
        if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
            raise TextlabError("val_fraction and test_fraction must be in [0, 1) and add up to less than 1")
        if num_folds is not None and num_folds < 2:
            raise TextlabError(f"--data.num_folds {num_folds}: cross-validation needs at least 2 folds")
        if num_folds is None and fold != 0:
            raise TextlabError(f"--data.fold {fold} picks a fold of a k-fold cross-validation: give --data.num_folds too")
        if num_folds is not None and not 0 <= fold < num_folds:
            raise TextlabError(
                f"--data.fold {fold} is not a fold of --data.num_folds {num_folds} (0 .. {num_folds - 1})")
        if max_tokens is not None and max_tokens < 1:
            raise TextlabError(f"--data.max_tokens {max_tokens}: keep at least 1 token a text (null keeps them all)")
        # class_files are read first: a train_file beside them would never be read
        if class_files and train_file:
            raise TextlabError(f"--data.train_file {train_file} and --data.class_files both name the training data: "
                               "give one of them")
        # Options these sources never read: harmless (a shared config keeps them when a run switches its data),
        # so one warning each. The labels of class_files are their keys; the label column only reads val/test files.
        if class_files and not (val_file or test_file or hf_dataset) and label_column != _default("label_column"):
            log.warning("--data.label_column %s: no effect with --data.class_files, whose labels are their keys "
                        "(ignored); remove it", label_column)
        if hf_config and not hf_dataset:
            log.warning("--data.hf_config %s: no effect without --data.hf_dataset (ignored); name the dataset, "
                        "or remove it", hf_config)
        if pretrained_words_scope != "all" and not add_pretrained_words:
            log.warning("--data.pretrained_words_scope %s: no effect without --data.add_pretrained_words, whose words "
                        "it picks (ignored); set that too, or remove it", pretrained_words_scope)

    # -- sources -> examples ----------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self.data_dir, name) if self.data_dir and not os.path.isabs(name) else name

    def _split_file(self, split: Split) -> str | None:
        if self.files[split]:
            return self.files[split]
        if self.data_dir and not self.class_files and os.path.isdir(self.data_dir):
            for name in sorted(os.listdir(self.data_dir)):
                stem, ext = os.path.splitext(name)
                if stem in DATA_DIR_STEMS[split] and ext.lower() in EXTENSIONS:
                    return os.path.join(self.data_dir, name)
        return None

    def _read_source(self, split: Split) -> list[Example] | None:
        """The split's examples as its own source gives them; None when there is no such source."""
        if split == "train" and self.class_files:
            examples = []
            for label, name in self.class_files.items():
                path = self._path(name)
                if not os.path.isfile(path):
                    where = f" in --data.data_dir {self.data_dir}" if self.data_dir else ""
                    raise TextlabError(f"{path}: no such file (class {label!r} of --data.class_files{where})")
                texts = read_lines(path, str(label), self.encoding)
                if not texts:
                    raise DataFormatError(path, None, f"no texts: expected one text a line (class {label!r} of "
                                                      "--data.class_files)")
                examples += texts
            return examples
        path = self._split_file(split)
        if path is not None:
            if not os.path.isfile(path):
                raise TextlabError(f"{path}: no such file (--data.{split}_file)")
            examples = read_file(path, self.file_format, self.text_column, self.label_column, self.encoding, self.header)
            if not examples:
                raise DataFormatError(path, None, "no examples: the file holds no labelled text")
            return examples
        if self.hf_dataset:
            return self._read_hf_split(split)
        if split == "train":
            raise TextlabError(self._no_data_message())
        return None

    def _has_train_source(self) -> bool:
        return bool(self.class_files or self._split_file("train") or self.hf_dataset)

    def _no_data_message(self) -> str:
        if self.data_dir and not os.path.isdir(self.data_dir):
            where = f"no folder {self.data_dir} (--data.data_dir)"
        elif self.data_dir:
            where = f"no train.csv, train.tsv or train.jsonl in {self.data_dir}"
        else:
            where = "no training data given (--data.train_file, --data.class_files or --data.data_dir)"
        hub = f" and the Hugging Face dataset {self.hf_dataset!r} could not be loaded" if self.hf_dataset else ""
        return f"{where}{hub}"

    def _read_hf_split(self, split: Split) -> list[Example] | None:
        found = self._hf_split(split)
        if found is None:
            return None
        part, where = found
        for column in (self.text_column, self.label_column):
            if column not in part.column_names:
                raise TextlabError(f"{where}: no column {column!r} (columns: {', '.join(part.column_names)}); "
                                   "pass --data.text_column / --data.label_column")
        label_names = getattr(part.features[self.label_column], "names", None)
        labels = part[self.label_column]
        # -1 is how datasets marks a missing ClassLabel: GLUE and SST-2 ship their test splits that way
        if label_names is not None and labels and all(label == -1 for label in labels):
            if split == "train":
                raise TextlabError(f"{where}: every label is -1 (unlabelled): training needs labelled texts")
            log.info("%s: every label is -1 (unlabelled): not used for %s", where,
                     "validation" if split == "val" else "the test")
            return None
        examples = []
        for i, (text, label) in enumerate(zip(part[self.text_column], labels), start=1):
            text = check_text(text, where, i, self.text_column)
            if label_names is not None and isinstance(label, int):
                if label == -1:
                    raise DataFormatError(where, i, f"label -1 (unlabelled) in a split with labels: label every row "
                                                    "or none (an unlabelled split is left out)")
                if not 0 <= label < len(label_names):
                    raise DataFormatError(where, i, f"label {label} is not a class of {self.label_column!r}")
                label = label_names[label]
            examples.append(Example(text, check_label(label, where, i, self.label_column), where, i))
        if split == "train" and not examples:
            raise TextlabError(f"{where}: no training examples: the split is empty")
        return examples

    @cached_property
    def _splits(self) -> dict[str, list[Example]]:
        """Every split's examples, with the validation ones also among the training ones under ``train_with_dev``."""
        splits = self._read_splits()
        if self.train_with_dev and splits["train"]:
            if not splits["val"]:
                raise TextlabError("--data.train_with_dev: no validation data to add to the training data")
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
        if self.num_folds is not None:
            for split in ("val", "test"):
                if self._split_file(split) or (self.hf_dataset and not self.class_files and self._read_hf_split(split)):
                    raise TextlabError(f"--data.num_folds cross-validates one data set: give no separate {split} data")
            if len(train) < self.num_folds:
                raise TextlabError(f"--data.num_folds {self.num_folds} needs at least {self.num_folds} texts; "
                                   f"the data has {len(train)}")
            if self.test_fraction != _default("test_fraction"):
                log.warning("--data.test_fraction %s: no effect with --data.num_folds, where fold %d is the test set "
                            "(ignored); remove it", self.test_fraction, self.fold)
            folds = kfold_split([e.label for e in train], self.num_folds, self.split_seed)
            test = [train[i] for i in folds[self.fold]]
            rest = [train[i] for i in sorted(i for f, fold in enumerate(folds) if f != self.fold for i in fold)]
            fractions = [1 - self.val_fraction, self.val_fraction]
            keep, val = stratified_split([e.label for e in rest], fractions, self.split_seed)
            log.info("fold %d of %d: %d train, %d val, %d test",
                     self.fold, self.num_folds, len(keep), len(val), len(test))
            return {"train": [rest[i] for i in keep], "val": [rest[i] for i in val], "test": test}
        val, test = self._read_source("val"), self._read_source("test")
        fractions = [
            self.val_fraction if val is None else 0.0,
            self.test_fraction if val is None and test is None else 0.0,
        ]
        self._check_split_options(val, test, any(fractions))
        if any(fractions):
            parts = stratified_split([e.label for e in train], [1 - sum(fractions)] + fractions, self.split_seed)
            made = [[train[i] for i in part] for part in parts]
            train, val, test = made[0], (made[1] if val is None else val), (made[2] if test is None else test)
            log.info("split the training data (seed %d): %d train, %d val, %d test",
                     self.split_seed, len(train), len(val), len(test))
        return {"train": train, "val": val or [], "test": test or []}

    def _check_split_options(self, val: list[Example] | None, test: list[Example] | None, splits: bool) -> None:
        """Warn about split options that the given validation or test data leave unused: a user who set one
        expects a held-out share of the training data that is not there (0 asks for none, and is none)."""
        def given(examples: list[Example] | None) -> str:
            return examples[0].where if examples else "none"

        def asks(name: str) -> bool:  # a share other than the default's, and other than none
            return bool(getattr(self, name)) and getattr(self, name) != _default(name)

        if val is not None and asks("val_fraction"):
            log.warning("--data.val_fraction %s: no effect, the validation data is given (%s) (ignored); remove it",
                        self.val_fraction, given(val))
        if (val is not None or test is not None) and asks("test_fraction"):
            why = (f"the test data is given ({given(test)})" if test is not None else
                   f"a test part is split off only when no validation data is given either ({given(val)})")
            log.warning("--data.test_fraction %s: no effect, %s (ignored); remove it", self.test_fraction, why)
        if not splits and self.split_seed != _default("split_seed"):
            log.warning("--data.split_seed %s: no effect, nothing is split off the training data (validation data: "
                        "%s; test data: %s) (ignored); remove it", self.split_seed, given(val), given(test))

    def examples(self, split: Split) -> list[Example]:
        return self._splits[split]

    def has_split(self, split: Split) -> bool:
        return bool(self.examples(split))

    # -- vocabulary ------------------------------------------------------------------------------------

    @cached_property
    def vocab(self) -> dict:
        """The vocabulary as a plain dict (linked to the model's ``vocab`` argument by the CLI)."""
        if self.vocab_from:
            saved = read_hparams(self.vocab_from)["vocab"]
            self._warn_overruled(saved, {"tokenizer": "tokenizer", "max_tokens": "max_tokens", "lowercase": "lowercase",
                                         "normalize_digits": "digits"})
            return saved
        train = self.examples("train")
        if not train:
            raise TextlabError("no training examples")
        token_lists = [tokenize(e.text, self.tokenizer)[: self.max_tokens or None] for e in train]
        words = WordVocab.from_tokens(token_lists, self.min_word_freq, self.lowercase, self.normalize_digits)
        if self.add_pretrained_words:
            before = len(words)
            pretrained = load_vectors(self.add_pretrained_words).words
            if self.pretrained_words_scope == "data":
                known = set(pretrained)
                texts = (e for split in ("train", "val", "test") for e in self.examples(split))
                seen = sorted({words.key(t) for e in texts for t in tokenize(e.text, self.tokenizer)} - set(words.stoi))
                pretrained = [w for w in seen if w in known or w.lower() in known]
            words = words.extend(pretrained)
            log.info("word vocabulary: %d from training + %d pretrained-only words", before, len(words) - before)
        counts = Counter(e.label for e in train)
        if len(counts) < 2:
            raise TextlabError(self._single_label_message(train, counts))
        labels = Vocab(sorted(counts), specials=False)
        label_counts = [counts[lab] for lab in labels.itos]
        vocab = ClassificationVocab(words, labels, self.tokenizer, self.max_tokens, label_counts)
        return vocab.to_dict()

    def _single_label_message(self, train: list[Example], counts: Counter) -> str:
        (label,) = counts
        if self.num_folds is not None:
            everything = Counter(e.label for split in ("train", "val", "test") for e in self.examples(split))
            found = ", ".join(f"{lab} {n}" for lab, n in sorted(everything.items()))
            return (f"fold {self.fold} of --data.num_folds {self.num_folds}: its training part holds a single label "
                    f"({label!r}); a classifier needs at least two (the whole data: {found})")
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
            self.datasets["predict"] = [encode_example(e.text, None, vocab) for e in self._read_predict()]
        if stage in ("validate", "test") and not self.datasets[wanted[0]]:
            raise TextlabError(f"no {wanted[0]} data: give --data.{wanted[0]}_file, --data.data_dir or a data set")

    @staticmethod
    def _encode(examples: list[Example], vocab: ClassificationVocab) -> list[EncodedExample]:
        for e in examples:
            if e.label not in vocab.labels:
                raise DataFormatError(
                    e.where, e.line,
                    f"label {e.label!r} never occurs in the training data (labels: {', '.join(vocab.labels.itos)})",
                )
        return [encode_example(e.text, e.label, vocab) for e in examples]

    def _read_predict(self) -> list[Example]:
        path = self._predict_path()
        return read_file(path, self.file_format, self.text_column, None, self.encoding, self.header)

    def collate(self, examples: list[EncodedExample]) -> ClassificationBatch:
        return collate_classification(examples)


def _default(name: str):
    return inspect.signature(ClassificationDataModule.__init__).parameters[name].default


# ClassificationDataModule options that name or read labelled data; the toy set generates its own
TOY_REFUSES = ("train_file", "val_file", "test_file", "data_dir", "class_files", "hf_dataset", "hf_config", "label_column")


class ToyClassificationDataModule(ClassificationDataModule):
    """The generated toy review set (positive/negative/neutral, with negation and contrast)."""

    def __init__(self, seed: int = 0, num_train: int = 3000, num_val: int = 500, num_test: int = 500, **kwargs) -> None:
        """
        Args:
            seed: the generator's seed; the same seed always gives the same texts.
            num_train: training texts.
            num_val: validation texts.
            num_test: test texts.
            **kwargs: the ClassificationDataModule options that apply to a generated set (batch size,
                tokenizer, predict_file, num_folds, ...); those naming data files or data sets are refused.
        """
        _refuse_ignored_options(kwargs)
        super().__init__(**kwargs)
        self.toy = dict(seed=seed, num_train=num_train, num_val=num_val, num_test=num_test)

    def _has_train_source(self) -> bool:
        return True

    def _read_source(self, split: Split) -> list[Example] | None:
        where = f"toy classification set ({split})"
        return [Example(t, label, where, i) for i, (t, label) in enumerate(self._generated[split], start=1)]

    @cached_property
    def _generated(self) -> dict[str, list[tuple[str, str]]]:
        return generate_toy_classification(**self.toy)


def _refuse_ignored_options(options: dict) -> None:
    """The toy module would run on its generated set whatever these say: a user who gave one meant other data."""
    defaults = inspect.signature(ClassificationDataModule.__init__).parameters
    changed = [name for name, value in options.items() if name in defaults and value != defaults[name].default]
    for name in changed:
        if name in TOY_REFUSES:
            raise TextlabError(
                f"--data.{name}: the toy set (textlab.data.ToyClassificationDataModule) is generated and reads no "
                f"data; for your own data pass --data textlab.data.ClassificationDataModule --data.{name} ...")
        # the toy set comes as train, val and test parts: only k-fold cross-validation splits it further
        if name == "test_fraction" or (name == "val_fraction" and options.get("num_folds") is None):
            raise TextlabError(f"--data.{name}: the toy set's validation and test sets are --data.num_val and "
                               "--data.num_test texts (val_fraction applies with --data.num_folds only)")
