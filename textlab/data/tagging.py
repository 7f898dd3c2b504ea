"""The LightningDataModule for sequence tagging (NER): CoNLL files, a Hugging Face dataset, or the toy set.

Data flows one way: source -> ``Sentence`` lists (tags converted to ``tag_scheme``) -> vocabularies
(from the training split, or from a checkpoint) -> encoded sentences -> padded ``TaggingBatch``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Literal

import datasets

from textlab.checkpoint import read_hparams
from textlab.data.conll import convert_tags, detect_scheme, entity_type, iter_conll, scheme_tags, tag_order
from textlab.data.corpus_cache import CorpusCache
from textlab.data.datamodule import TextDataModule
from textlab.data.hub import TaggingHub
from textlab.data.prediction_input import TAGGING_FORMAT_NAMES, guess_tagging_format, tagging_sentences
from textlab.data.sentence import Sentence
from textlab.data.sources import CONLL_FILES, ConllFiles, Split
from textlab.data.tagging_batch import EncodedSentence, TaggingBatch, collate_tagging, encode_sentence
from textlab.data.text_files import LineSource
from textlab.data.toy_ner import generate_toy_ner
from textlab.data.vectors import load_vectors
from textlab.data.vocab import PAD, UNK, TaggingVocab, Vocab, WordVocab, Words
from textlab.errors import DataFormatError, TextlabError

log = logging.getLogger("textlab")

DEFAULT_SCHEME = "BIOES"
DEFAULT_TOKENIZER = "syntok"
DEFAULT_WORDS = Words()


class TaggingDataModule(TextDataModule):
    def __init__(
        self,
        files: ConllFiles | None = None,
        hub: TaggingHub | None = None,
        tag_scheme: Literal["IOB2", "BIOES"] = DEFAULT_SCHEME,
        words: Words = DEFAULT_WORDS,
        train_with_dev: bool = False,
        tokenizer: Literal["syntok", "whitespace"] = "syntok",
        predict_file: str | None = None,
        predict_format: Literal["auto", "text", "tokenized", "jsonl", "conll"] = "auto",
        vocab_from: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        bucket: bool = True,
        num_workers: int = 0,
    ) -> None:
        """
        Args:
            files: CoNLL files (or the folder of the CoNLL-2003 layout), how to read them, and a cache for
                large corpora.
            hub: a Hugging Face dataset with token and tag columns, for the splits no file is given or found for.
            tag_scheme: the scheme the model is trained with; input in IOB1, IOB2 or BIOES is converted.
            words: how the word vocabulary is built from the training sentences.
            train_with_dev: train on the validation sentences too, appended to the training ones (flair's
                ``train_with_dev``; Chiu & Nichols 2016 report CoNLL-2003 this way, after tuning on dev).
                Validation still runs on them, so its scores measure fit, not generalisation, and no
                longer pick a model: train a fixed number of epochs and use ``last.ckpt``.
            tokenizer: how plain text is cut into sentences and tokens, kept in the checkpoint: ``syntok``
                (sentences and tokens as in CoNLL-2003), or ``whitespace`` (one pre-tokenised sentence a line).
            predict_file: what to tag (read with the files' encoding; ``-``: standard input): plain text (a
                document; entities get character offsets into it), pre-tokenised text, JSON lines (a
                ``{"text": ..., "id": ...}`` document a line) or CoNLL (read with the files' tag_column). Read as
                it is tagged, so it may be larger than memory.
            predict_format: ``text``, ``tokenized`` (one sentence a line, tokens split on whitespace), ``jsonl``,
                ``conll``, or ``auto``: JSON lines if the first line is a JSON object, CoNLL if the input's first
                lines look like it, plain text otherwise.
            vocab_from: a checkpoint whose vocabularies to use instead of building them from the
                training data (textlab sets this from ``--ckpt_path``).
            batch_size: sentences per training batch.
            eval_batch_size: sentences per validation, test and prediction batch.
            bucket: batch training sentences of similar length together (batch order still shuffled).
            num_workers: DataLoader worker processes.
        """
        super().__init__(batch_size, eval_batch_size, bucket, num_workers)
        # self.datasets holds per split a list of encoded sentences, or a memory-mapped Arrow dataset
        self.files, self.hub = files, hub
        self.tag_scheme, self.words, self.tokenizer = tag_scheme, words, tokenizer
        self.train_with_dev = train_with_dev
        self.predict_file, self.predict_format = predict_file, predict_format
        self.vocab_from = vocab_from
        self.cache_dir = files.cache_dir if files else None

    @property
    def add_pretrained_words(self) -> str | None:
        return self.words.add_pretrained_words

    # -- sources -> sentences ---------------------------------------------------------------------

    def _split_file(self, split: Split) -> str | None:
        return self.files.path(split) if self.files else None

    def _read_split(self, split: Split) -> tuple[Callable[[], Iterable[Sentence]], str]:
        """A way to read the split's sentences (tags as found), as often as needed, and its name.

        Files are streamed, so a corpus need not fit in memory; other sources are small enough to hold.
        """
        path = self._split_file(split)
        if path is not None:
            if not os.path.isfile(path):
                raise TextlabError(f"{path}: no such file (--data.files.{split}_file)")
            files = self.files
            return (lambda: iter_conll(path, tag_column=files.tag_column, encoding=files.encoding)), path
        if self.hub:
            sentences, where = self._from_hub(self.hub.sentences, split)
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
                "(give --data.files.val_file, or --data.files.data_dir with valid.txt)"
            )
        return (lambda: itertools.chain(read(), read_val())), f"{where} + {val_where}"

    def _no_data_message(self) -> str:
        data_dir = self.files.data_dir if self.files else None
        where = (f"no {CONLL_FILES['train']} in {data_dir}" if data_dir
                 else "no training data given (--data.files.train_file or --data.files.data_dir)")
        hub = f" and the Hugging Face dataset {self.hub.name!r} could not be loaded" if self.hub else ""
        return (
            f"{where}{hub}: put train.txt, valid.txt and test.txt into --data.files.data_dir, "
            "or go online and name a Hugging Face dataset with --data.hub.name"
        )

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
        w = self.words
        sources = {split: self._split_file(split) for split in CONLL_FILES}
        # the checkpoint whose vocabularies encode the corpus is a source too: overwritten, its ids change
        sources["vocab_from"] = self.vocab_from
        key = {
            "sources": {k: [os.path.abspath(p), os.path.getsize(p), os.path.getmtime(p)] if p else None
                        for k, p in sources.items()},
            "hf_dataset": self.hub.name if self.hub else None, "hf_config": self.hub.config if self.hub else None,
            "toy": None,  # kept in the key so that caches made before still match; the toy set has no cache
            "options": [self.files.tag_column, self.files.encoding, self.tag_scheme, w.min_word_freq, w.lowercase,
                        w.normalize_digits, w.add_pretrained_words, self.vocab_from, self.train_with_dev]
                       # the tokenizer is in the cached vocabulary; a cache made before it was one still matches
                       + ([self.tokenizer] if self.tokenizer != DEFAULT_TOKENIZER else []),
        }
        return CorpusCache(self.cache_dir, key)

    @cached_property
    def vocab(self) -> dict:
        """The vocabularies as a plain dict (linked to the model's ``vocab`` argument by the CLI)."""
        if self.vocab_from:
            w = self.words
            self._warn_overruled(self._checkpoint_vocab, [
                ("tag_scheme", self.tag_scheme, DEFAULT_SCHEME, "tag_scheme"),
                ("tokenizer", self.tokenizer, DEFAULT_TOKENIZER, "tokenizer"),
                ("words.lowercase", w.lowercase, DEFAULT_WORDS.lowercase, "lowercase"),
                ("words.normalize_digits", w.normalize_digits, DEFAULT_WORDS.normalize_digits, "digits")])
            return self._checkpoint_vocab
        if self.cache_dir:
            return self._cache.vocab(lambda: self._build_vocab(self._converted("train")[0]()))
        return self._build_vocab(self.sentences("train"))

    def _build_vocab(self, train: Iterable[Sentence]) -> dict:
        """Words, characters and tags of the training sentences, in one pass (the corpus may be streamed)."""
        w = self.words
        words = WordVocab([PAD, UNK], w.lowercase, w.normalize_digits)
        word_counts, char_counts, types = Counter(), Counter(), set()
        for s in train:
            word_counts.update(words.key(t) for t in s.tokens)
            char_counts.update(c for t in s.tokens for c in t)
            types.update(kind for t in s.tags if (kind := entity_type(t)))
        words = WordVocab.from_counts(word_counts, w.min_word_freq, w.lowercase, w.normalize_digits)
        before = None
        if w.add_pretrained_words:
            before = len(words)
            words = words.extend(load_vectors(w.add_pretrained_words).words)
            log.info("word vocabulary: %d from training + %d pretrained-only words", before, len(words) - before)
        # Every tag of the scheme for each entity type in training, not only the tags seen there: a type that
        # spans several tokens in every training sentence may still be a single token (S-) in dev or test.
        tag_vocab = Vocab(sorted(scheme_tags(types, self.tag_scheme), key=tag_order), specials=False)
        return TaggingVocab(words, Vocab.build(char_counts), tag_vocab, self.tag_scheme, before,
                            self.tokenizer).to_dict()

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
            self._predict_vocab = vocab
            source = self._open_predict_input((self.files or ConllFiles()).encoding)
            self._predict_form = self._read_predict_as(source, vocab.tokenizer)
        if stage in ("validate", "test") and not len(self.datasets[wanted[0]]):
            raise TextlabError(f"no {wanted[0]} data: give --data.files.{wanted[0]}_file or --data.files.data_dir")

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

    def _read_predict_as(self, source: LineSource, tokenizer: str) -> str:
        """The format the prediction input is read in: ``predict_format``, or the guess from its first lines."""
        if self.predict_format != "auto":
            return self.predict_format
        form = guess_tagging_format(source)
        read_as = TAGGING_FORMAT_NAMES[form].format(tokenizer=tokenizer)
        # a guess: say what was guessed and how to overrule it
        self._log_once("%s: read as %s (--data.predict_format text|tokenized|jsonl|conll to read it otherwise)",
                       source.name, read_as)
        return form

    def _predict_examples(self) -> Iterator[Sentence]:
        """The sentences to tag, read as they are needed; plain text is cut by the model's tokenizer."""
        return tagging_sentences(self._predict_source, self._predict_form, self._predict_vocab.tokenizer,
                                 (self.files or ConllFiles()).tag_column)

    def _predict_length(self, sentence: Sentence) -> int:
        return len(sentence.tokens)

    def _predict_batch(self, sentences: list[Sentence]) -> TaggingBatch:
        return collate_tagging([encode_sentence(s, self._predict_vocab) for s in sentences])

    def collate(self, examples: list) -> TaggingBatch:
        return collate_tagging(examples)

    def lengths(self, data) -> list[int]:
        if isinstance(data, datasets.Dataset):  # one Arrow column to a list, not a lookup per row
            return data.data.column("n_tokens").to_pylist()
        return super().lengths(data)


class ToyNERDataModule(TaggingDataModule):
    """The generated toy NER set (PER/LOC/ORG/MISC, test names never seen in training)."""

    def __init__(self, seed: int = 0, num_train: int = 3000, num_val: int = 500, num_test: int = 500, **kwargs) -> None:
        """
        Args:
            seed: the generator's seed; the same seed always gives the same sentences.
            num_train: training sentences.
            num_val: validation sentences.
            num_test: test sentences.
            **kwargs: the TaggingDataModule options other than its sources (batch size, tag scheme, words,
                predict_file, ...).
        """
        super().__init__(files=None, hub=None, **kwargs)
        self.toy = dict(seed=seed, num_train=num_train, num_val=num_val, num_test=num_test)

    @cached_property
    def _generated(self) -> dict[str, list[Sentence]]:
        return generate_toy_ner(**self.toy)

    def _read_split(self, split: Split) -> tuple[Callable[[], Iterable[Sentence]], str]:
        return (lambda: self._generated[split]), f"toy NER set ({split})"
