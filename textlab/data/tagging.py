"""The LightningDataModule for sequence tagging (NER): CoNLL files, a Hugging Face dataset, or the toy set.

Data flows one way: source -> ``Sentence`` lists (tags converted to ``tag_scheme``) -> vocabularies
(from the training split, or from a checkpoint) -> encoded sentences -> padded ``TaggingBatch``.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Literal

import datasets


from textlab.checkpoint import read_hparams
from textlab.data.conll import (
    convert_tags, detect_scheme, entity_type, iter_conll, looks_like_conll, read_conll, read_text_lines, scheme_tags,
)
from textlab.data.corpus_cache import CorpusCache
from textlab.data.datamodule import TextDataModule
from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import EncodedSentence, TaggingBatch, collate_tagging, encode_sentence
from textlab.data.toy_ner import generate_toy_ner
from textlab.data.vectors import load_vectors
from textlab.data.vocab import PAD, UNK, TaggingVocab, Vocab, WordVocab
from textlab.errors import DataFormatError, TextlabError

log = logging.getLogger("textlab")

Split = Literal["train", "val", "test"]
# data_dir layout: the file names of the CoNLL-2003 distribution
DATA_DIR_FILES = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}


class TaggingDataModule(TextDataModule):
    def __init__(
        self,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        data_dir: str | None = None,
        predict_file: str | None = None,
        train_with_dev: bool = False,
        hf_dataset: str | None = None,
        hf_config: str | None = None,
        hf_tokens_column: str = "tokens",
        hf_tags_column: str = "ner_tags",
        tag_column: int = -1,
        encoding: str = "utf-8",
        predict_format: Literal["auto", "conll", "text"] = "auto",
        tag_scheme: Literal["IOB2", "BIOES"] = "BIOES",
        min_word_freq: int = 1,
        lowercase: bool = False,
        normalize_digits: bool = False,
        add_pretrained_words: str | None = None,
        vocab_from: str | None = None,
        cache_dir: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        bucket: bool = True,
        num_workers: int = 0,
    ) -> None:
        """
        Args:
            train_file: CoNLL file to train on (one token a line, blank line between sentences).
            val_file: CoNLL file for validation (model selection).
            test_file: CoNLL file for the test.
            data_dir: a folder with train.txt, valid.txt and test.txt (the CoNLL-2003 layout); files
                given one by one take precedence.
            predict_file: text to tag: one sentence a line (tokens split on whitespace), or a CoNLL file.
            train_with_dev: train on the validation sentences too, appended to the training ones (flair's
                ``train_with_dev``; Chiu & Nichols 2016 report CoNLL-2003 this way, after tuning on dev).
                Validation still runs on them, so its scores measure fit, not generalisation, and no
                longer pick a model: train a fixed number of epochs and use ``last.ckpt``.
            hf_dataset: a Hugging Face dataset name (or a folder written by ``save_to_disk``) with
                token and tag columns; used when no files are given or found.
            hf_config: the dataset's configuration name, if it has several.
            hf_tokens_column: the dataset's column of token lists.
            hf_tags_column: the dataset's column of tag lists (a ClassLabel sequence, or strings).
            tag_column: which column of a CoNLL file holds the tags (Python index; -1 is the last).
            encoding: text encoding of the input files.
            predict_format: ``auto`` sniffs CoNLL vs plain text.
            tag_scheme: the scheme the model is trained with; input in IOB1, IOB2 or BIOES is converted.
            min_word_freq: training words seen fewer times map to <unk> (they still get char features).
            lowercase: store words lower-cased in the word vocabulary (characters keep their case).
            normalize_digits: store words with every digit replaced by 0.
            add_pretrained_words: pretrained vectors (a file or ``glove-6b-50d``) whose words join the
                word vocabulary, so words unseen in training keep their pretrained vectors (fixed; the
                training words' vectors are fine-tuned).
            vocab_from: a checkpoint whose vocabularies to use instead of building them from the
                training data (textlab sets this from ``--ckpt_path``).
            cache_dir: for corpora too large to hold in every process: stream the files once into
                a vocabulary file and Arrow files here, which all processes memory-map and later
                runs with the same files and options reuse.
            batch_size: sentences per training batch.
            eval_batch_size: sentences per validation, test and prediction batch.
            bucket: batch training sentences of similar length together (batch order still shuffled).
            num_workers: DataLoader worker processes.
        """
        super().__init__(batch_size, eval_batch_size, bucket, num_workers)
        # the Hugging Face options only name a dataset's parts: without one they are ignored (harmless: a warning)
        if not hf_dataset:
            given = [f"--data.{name} {value}" for name, value, default in (
                ("hf_config", hf_config, None), ("hf_tokens_column", hf_tokens_column, "tokens"),
                ("hf_tags_column", hf_tags_column, "ner_tags")) if value != default]
            if given:
                log.warning("%s: no effect without --data.hf_dataset (ignored); name the dataset, or remove %s",
                            ", ".join(given), "them" if len(given) > 1 else "it")
        # self.datasets holds per split a list of encoded sentences, or a memory-mapped Arrow dataset
        self.files = {"train": train_file, "val": val_file, "test": test_file}
        self.data_dir = data_dir
        self.predict_file = predict_file
        self.train_with_dev = train_with_dev
        self.hf_dataset, self.hf_config = hf_dataset, hf_config
        self.hf_columns = (hf_tokens_column, hf_tags_column)
        self.tag_column = tag_column
        self.encoding = encoding
        self.predict_format = predict_format
        self.tag_scheme = tag_scheme
        self.min_word_freq, self.lowercase, self.normalize_digits = min_word_freq, lowercase, normalize_digits
        self.add_pretrained_words = add_pretrained_words
        self.vocab_from = vocab_from
        self.cache_dir = cache_dir

    # -- sources -> sentences ---------------------------------------------------------------------

    def _split_file(self, split: Split) -> str | None:
        if self.files[split]:
            return self.files[split]
        if self.data_dir:
            path = os.path.join(self.data_dir, DATA_DIR_FILES[split])
            if os.path.isfile(path):
                return path
        return None

    def _read_split(self, split: Split) -> tuple[Callable[[], Iterable[Sentence]], str]:
        """A way to read the split's sentences (tags as found), as often as needed, and its name.

        Files are streamed, so a corpus need not fit in memory; other sources are small enough to hold.
        """
        path = self._split_file(split)
        if path is not None:
            if not os.path.isfile(path):
                raise TextlabError(f"{path}: no such file (--data.{split}_file)")
            return (lambda: iter_conll(path, tag_column=self.tag_column, encoding=self.encoding)), path
        if self.hf_dataset:
            sentences, where = self._read_hf_split(split)
            return (lambda: sentences), where
        if split == "train":
            raise TextlabError(self._no_data_message())
        return (lambda: []), ""  # no validation or test data: fit without them, or say so in setup()

    def _split_source(self, split: Split) -> tuple[Callable[[], Iterable[Sentence]], str]:
        """``_read_split``, with the validation sentences after the training ones under ``train_with_dev``."""
        read, where = self._read_split(split)
        if split != "train" or not self.train_with_dev:
            return read, where
        read_val, val_where = self._read_split("val")
        if not val_where:
            raise TextlabError(
                "--data.train_with_dev: no validation data to add to the training data "
                "(give --data.val_file, or --data.data_dir with valid.txt)"
            )
        return (lambda: itertools.chain(read(), read_val())), f"{where} + {val_where}"

    def _no_data_message(self) -> str:
        where = (
            f"no {DATA_DIR_FILES['train']} in {self.data_dir}"
            if self.data_dir
            else "no training data given (--data.train_file or --data.data_dir)"
        )
        hub = f" and the Hugging Face dataset {self.hf_dataset!r} could not be loaded" if self.hf_dataset else ""
        return (
            f"{where}{hub}: put train.txt, valid.txt and test.txt into --data.data_dir, "
            "or go online and name a Hugging Face dataset with --data.hf_dataset"
        )

    def _read_hf_split(self, split: Split) -> tuple[list[Sentence], str]:
        found = self._hf_split(split)
        if found is None:
            return [], ""
        part, where = found
        tokens_col, tags_col = self.hf_columns
        for col in self.hf_columns:
            if col not in part.column_names:
                raise TextlabError(f"{where}: no column {col!r} (columns: {', '.join(part.column_names)})")
        feature = part.features[tags_col]
        label_names = getattr(getattr(feature, "feature", None), "names", None)
        sentences = []
        for i, row in enumerate(part):
            tags = row[tags_col]
            if tags and isinstance(tags[0], int):
                if label_names is None:
                    raise DataFormatError(where, i + 1, f"{tags_col!r} holds numbers but no ClassLabel names")
                tags = [label_names[t] for t in tags]
            if len(tags) != len(row[tokens_col]):
                raise DataFormatError(where, i + 1, "expected as many tags as tokens")
            if row[tokens_col]:
                sentences.append(Sentence(list(row[tokens_col]), list(tags), line=i + 1))
        return sentences, where

    def _converted(self, split: Split) -> tuple[Callable[[], Iterator[Sentence]], str]:
        """The split's sentences with tags converted to the training scheme (one pass to detect the input's)."""
        read, where = self._split_source(split)
        found = detect_scheme(s.tags for s in read())
        # a checkpoint's scheme wins over the config's
        target = self._checkpoint_vocab["tag_scheme"] if self.vocab_from else self.tag_scheme
        if where:
            log.info("%s: tags %s -> %s", where, found, target)
        return (lambda: (Sentence(s.tokens, convert_tags(s.tags, found, target), s.line) for s in read())), where

    def sentences(self, split: Split) -> list[Sentence]:
        """The split's sentences with tags in the training scheme, read once and kept in memory."""
        return self._kept(split)[0]

    def _kept(self, split: Split) -> tuple[list[Sentence], str]:
        kept = self.__dict__.setdefault("_sentences", {})
        if split not in kept:
            read, where = self._converted(split)
            kept[split] = (list(read()), where)
        return kept[split]

    def has_split(self, split: Split) -> bool:
        read, _ = self._read_split(split)
        return any(True for _ in read())

    # -- vocabularies --------------------------------------------------------------------------------

    @cached_property
    def _checkpoint_vocab(self) -> dict:
        return read_hparams(self.vocab_from)["vocab"]

    @cached_property
    def _cache(self) -> CorpusCache:
        sources = {split: self._split_file(split) for split in self.files}
        # the checkpoint whose vocabularies encode the corpus is a source too: overwritten, its ids change
        sources["vocab_from"] = self.vocab_from
        key = {
            "sources": {k: [os.path.abspath(p), os.path.getsize(p), os.path.getmtime(p)] if p else None
                        for k, p in sources.items()},
            "hf_dataset": self.hf_dataset, "hf_config": self.hf_config, "toy": getattr(self, "toy", None),
            "options": [self.tag_column, self.encoding, self.tag_scheme, self.min_word_freq, self.lowercase,
                        self.normalize_digits, self.add_pretrained_words, self.vocab_from, self.train_with_dev],
        }
        return CorpusCache(self.cache_dir, key)

    @cached_property
    def vocab(self) -> dict:
        """The vocabularies as a plain dict (linked to the model's ``vocab`` argument by the CLI)."""
        if self.vocab_from:
            self._warn_overruled(self._checkpoint_vocab, {"tag_scheme": "tag_scheme", "lowercase": "lowercase",
                                                          "normalize_digits": "digits"})
            return self._checkpoint_vocab
        if self.cache_dir:
            return self._cache.vocab(lambda: self._build_vocab(self._converted("train")[0]()))
        return self._build_vocab(self.sentences("train"))

    def _build_vocab(self, train: Iterable[Sentence]) -> dict:
        """Words, characters and tags of the training sentences, in one pass (the corpus may be streamed)."""
        words = WordVocab([PAD, UNK], self.lowercase, self.normalize_digits)
        word_counts, char_counts, types = Counter(), Counter(), set()
        for s in train:
            word_counts.update(words.key(t) for t in s.tokens)
            char_counts.update(c for t in s.tokens for c in t)
            types.update(kind for t in s.tags if (kind := entity_type(t)))
        words = WordVocab.from_counts(word_counts, self.min_word_freq, self.lowercase, self.normalize_digits)
        before = None
        if self.add_pretrained_words:
            before = len(words)
            words = words.extend(load_vectors(self.add_pretrained_words).words)
            log.info("word vocabulary: %d from training + %d pretrained-only words", before, len(words) - before)
        # Every tag of the scheme for each entity type in training, not only the tags seen there: a type that
        # spans several tokens in every training sentence may still be a single token (S-) in dev or test.
        tag_vocab = Vocab(sorted(scheme_tags(types, self.tag_scheme), key=_tag_order), specials=False)
        return TaggingVocab(words, Vocab.build(char_counts), tag_vocab, self.tag_scheme, before).to_dict()

    # -- sentences -> ids -> batches -------------------------------------------------------------

    def setup(self, stage: str) -> None:
        vocab = TaggingVocab.from_dict(self.vocab)
        wanted = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": []}[stage]
        if stage == "fit" and self.train_with_dev and "train" not in self.datasets:
            log.warning("train_with_dev: the validation sentences are training sentences too, so val/ scores "
                        "measure fit and do not pick a model; use last.ckpt")
        for split in wanted:
            if split not in self.datasets:
                if self.cache_dir:
                    data = self._cache.split(split, lambda split=split: self._encoded(split, vocab))
                else:
                    data = list(self._encoded(split, vocab))
                self.datasets[split] = data
                log.info("%s: %d sentences", split, len(data))
        if stage == "predict":
            self.datasets["predict"] = [encode_sentence(s, vocab) for s in self._read_predict()]
        if stage in ("validate", "test") and not len(self.datasets[wanted[0]]):
            raise TextlabError(f"no {wanted[0]} data: give --data.{wanted[0]}_file or --data.data_dir")

    def _encoded(self, split: Split, vocab: TaggingVocab) -> Iterator[EncodedSentence]:
        if self.cache_dir:  # streamed from the file: the corpus never sits in memory
            read, where = self._converted(split)
            sentences = read()
        else:
            sentences, where = self._kept(split)
        in_file = self._split_file(split) is not None  # a file has a token a line; other sources a sentence a row
        for s in sentences:
            unknown = next((i for i, t in enumerate(s.tags) if t not in vocab.tags), None)
            if unknown is not None:
                line = s.line + unknown if in_file and s.line else s.line
                raise DataFormatError(where, line, f"entity type {entity_type(s.tags[unknown])!r} (token "
                                      f"{s.tokens[unknown]!r}) never occurs in the training data")
            yield encode_sentence(s, vocab)

    def _read_predict(self) -> list[Sentence]:
        path = self._predict_path()
        conll = self.predict_format == "conll" or (
            self.predict_format == "auto" and looks_like_conll(path, encoding=self.encoding)
        )
        if self.predict_format == "auto":  # a guess: say what was guessed and how to overrule it
            guessed, other = ("CoNLL, a token a line", "text") if conll else ("plain text, a sentence a line", "conll")
            log.info("%s: read as %s (--data.predict_format %s to read it otherwise)", path, guessed, other)
        if conll:
            return read_conll(path, tag_column=self.tag_column, encoding=self.encoding, require_tags=False)
        return read_text_lines(path, encoding=self.encoding)

    def collate(self, examples: list) -> TaggingBatch:
        return collate_tagging(examples)

    def lengths(self, data) -> list[int]:
        if isinstance(data, datasets.Dataset):  # one Arrow column to a list, not a lookup per row
            return data.data.column("n_tokens").to_pylist()
        return super().lengths(data)


# TaggingDataModule options that name or read labelled data; the toy set generates its own
TOY_NER_REFUSES = ("train_file", "val_file", "test_file", "data_dir", "hf_dataset", "hf_config", "hf_tokens_column",
                   "hf_tags_column")


class ToyNERDataModule(TaggingDataModule):
    """The generated toy NER set (PER/LOC/ORG/MISC, test names never seen in training)."""

    def __init__(self, seed: int = 0, num_train: int = 3000, num_val: int = 500, num_test: int = 500, **kwargs) -> None:
        """
        Args:
            seed: the generator's seed; the same seed always gives the same sentences.
            num_train: training sentences.
            num_val: validation sentences.
            num_test: test sentences.
            **kwargs: the TaggingDataModule options that apply to a generated set (batch size, tag scheme,
                predict_file, ...); those naming data files or data sets are refused.
        """
        # The generated set replaces every data source: a user who named one meant their own data.
        defaults = inspect.signature(TaggingDataModule.__init__).parameters
        for name in TOY_NER_REFUSES:
            if name in kwargs and kwargs[name] != defaults[name].default:
                raise TextlabError(
                    f"--data.{name}: the toy set (textlab.data.ToyNERDataModule) is generated and reads no data; "
                    f"for your own data pass --data textlab.data.TaggingDataModule --data.{name} ...")
        super().__init__(**kwargs)
        self.toy = dict(seed=seed, num_train=num_train, num_val=num_val, num_test=num_test)

    @cached_property
    def _generated(self) -> dict[str, list[Sentence]]:
        return generate_toy_ner(**self.toy)

    def _read_split(self, split: Split) -> tuple[Callable[[], Iterable[Sentence]], str]:
        return (lambda: self._generated[split]), f"toy NER set ({split})"


def _tag_order(tag: str) -> tuple:
    """O first, then by entity type, then B I E S: tag ids are stable and readable."""
    return (tag != "O", tag[2:], "BIES".find(tag[:1]))
