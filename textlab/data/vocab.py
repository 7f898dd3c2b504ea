"""Vocabularies: string <-> id maps for words, characters, tags and labels, and the sets of them a tagger
(``TaggingVocab``) and a classifier (``ClassificationVocab``) carry.

A vocabulary is stored as its plain list of entries (``itos``), so it travels inside a checkpoint's
hyperparameters and loads with ``torch.load(weights_only=True)`` with no data files present.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from textlab.data.plain_text import Tokenizer, tokenize
from textlab.errors import TextlabError

log = logging.getLogger("textlab")

PAD = "<pad>"
UNK = "<unk>"
_DIGIT = re.compile(r"\d")


def normalize_digits(word: str) -> str:
    """'1,250.75' -> '0,000.00': numbers share a few entries instead of one entry each."""
    return _DIGIT.sub("0", word)


class Vocab:
    """An ordered list of entries; with ``specials`` the first entries are ``<pad>`` (id 0) and ``<unk>`` (id 1)."""

    def __init__(self, itos: Iterable[str], specials: bool = True) -> None:
        self.itos: list[str] = list(itos)
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate entries")
        self.has_specials = specials
        if specials and self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary with specials must start with {PAD!r}, {UNK!r}")

    @classmethod
    def build(cls, counts: Counter, min_freq: int = 1, specials: bool = True) -> "Vocab":
        """Entries seen at least ``min_freq`` times, most frequent first (ties alphabetical: deterministic)."""
        kept = sorted((s for s, c in counts.items() if c >= min_freq), key=lambda s: (-counts[s], s))
        prefix = [PAD, UNK] if specials else []
        return cls(prefix + [s for s in kept if s not in (PAD, UNK)], specials=specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, entry: str) -> bool:
        return entry in self.stoi

    def id(self, entry: str) -> int:
        """The entry's id; unknown entries map to ``<unk>`` (a KeyError without specials)."""
        found = self.stoi.get(entry)
        if found is not None:
            return found
        if self.has_specials:
            return 1
        raise KeyError(entry)

    def extend(self, entries: Iterable[str]) -> "Vocab":
        """A new vocabulary with ``entries`` not yet present appended (ids of existing entries unchanged)."""
        return Vocab(self.itos + [e for e in dict.fromkeys(entries) if e not in self.stoi], self.has_specials)


class WordVocab(Vocab):
    """Word vocabulary with the lookup chain: exact word, then lower-cased, then digits normalised.

    ``lowercase``/``digits`` decide the key a word is stored under when the vocabulary is built; the
    lookup chain lets a cased word reach a lower-cased entry (e.g. a pretrained-only word) instead of
    falling straight to ``<unk>``.
    """

    def __init__(self, itos: Iterable[str], lowercase: bool = False, digits: bool = False) -> None:
        super().__init__(itos, specials=True)
        self.lowercase = lowercase
        self.digits = digits

    @classmethod
    def from_tokens(
        cls, token_lists: Iterable[list[str]], min_freq: int = 1, lowercase: bool = False, digits: bool = False
    ) -> "WordVocab":
        keyed = cls([PAD, UNK], lowercase, digits)
        return cls.from_counts(Counter(keyed.key(t) for tokens in token_lists for t in tokens), min_freq, lowercase, digits)

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int = 1, lowercase: bool = False, digits: bool = False):
        """From counts of already-keyed words (see ``key``)."""
        return cls(Vocab.build(counts, min_freq).itos, lowercase, digits)

    def key(self, word: str) -> str:
        if self.lowercase:
            word = word.lower()
        if self.digits:
            word = normalize_digits(word)
        return word

    def id(self, word: str) -> int:
        key = self.key(word)
        for candidate in (key, key.lower(), normalize_digits(key.lower())):
            found = self.stoi.get(candidate)
            if found is not None:
                return found
        return 1  # <unk>

    def extend(self, entries: Iterable[str]) -> "WordVocab":
        keys = (self.key(e) for e in entries)
        return WordVocab(self.itos + [k for k in dict.fromkeys(keys) if k not in self.stoi], self.lowercase, self.digits)


@dataclass(frozen=True)
class Words:
    """How the data module builds the word vocabulary from the training data (a checkpoint's vocabulary,
    ``vocab_from``, replaces it, and with it these options).

    Args:
        lowercase: store words lower-cased in the word vocabulary (a tagger's characters keep their case).
        normalize_digits: store words with every digit replaced by 0.
        min_word_freq: training words seen fewer times map to <unk> (a tagger still gives them char features).
        add_pretrained_words: pretrained vectors (a file or ``glove-6b-50d``) whose words join the word
            vocabulary, so words unseen in training keep their pretrained vectors (fixed; the training
            words' vectors are fine-tuned).
    """

    lowercase: bool = False
    normalize_digits: bool = False
    min_word_freq: int = 1
    add_pretrained_words: str | None = None


@dataclass(frozen=True)
class ClassificationWords(Words):
    """How the data module splits texts into words and builds the word vocabulary from the training data
    (a checkpoint's vocabulary, ``vocab_from``, replaces it, and with it these options).

    Args:
        lowercase: store words lower-cased in the word vocabulary.
        normalize_digits: store words with every digit replaced by 0.
        min_word_freq: training words seen fewer times map to <unk>.
        add_pretrained_words: pretrained vectors (a file or ``glove-6b-50d``) whose words join the word
            vocabulary, so words unseen in training keep their pretrained vectors.
        tokenizer: whitespace (pre-tokenised text), basic (also splits off punctuation and clitics by a regular
            expression), or syntok (as a tagger reads plain text; see textlab/data/plain_text.py).
        max_tokens: keep only the first this many tokens of a text (null: all).
        pretrained_words_scope: ``all`` adds every pretrained word; ``data`` only those occurring in the
            texts of any split (labels unused), as Kim (2014) built his vocabulary: a much smaller embedding
            matrix, but words first seen at prediction time stay <unk>.
    """

    tokenizer: Tokenizer = "whitespace"
    max_tokens: int | None = None
    pretrained_words_scope: Literal["all", "data"] = "all"

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise TextlabError(f"--data.words.max_tokens {self.max_tokens}: keep at least 1 token a text "
                               "(null keeps them all)")
        if self.pretrained_words_scope != "all" and not self.add_pretrained_words:
            log.warning("--data.words.pretrained_words_scope %s: no effect without --data.words.add_pretrained_words, "
                        "whose words it picks (ignored); set that too, or remove it", self.pretrained_words_scope)


@dataclass
class TaggingVocab:
    """Everything a tagger needs to turn text into ids and ids back into tags.

    It crosses from the data module to the model (and into the checkpoint) as a plain dict.
    """

    words: WordVocab
    chars: Vocab
    tags: Vocab  # no specials: padded positions are masked, never scored
    tag_scheme: str
    # words[:trainable_words] came from the training data; the rest only from a pretrained file
    # (their vectors stay fixed: see WordEmbedder). None: all of them came from training.
    trainable_words: int | None = None
    # how plain text is cut into sentences and tokens for this model (textlab.data.plain_text)
    tokenizer: Tokenizer = "syntok"

    def to_dict(self) -> dict:
        return {
            "words": self.words.itos,
            "chars": self.chars.itos,
            "tags": self.tags.itos,
            "tag_scheme": self.tag_scheme,
            "lowercase": self.words.lowercase,
            "digits": self.words.digits,
            "trainable_words": self.trainable_words,
            "tokenizer": self.tokenizer,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TaggingVocab":
        try:
            return cls(
                words=WordVocab(d["words"], d.get("lowercase", False), d.get("digits", False)),
                chars=Vocab(d["chars"]),
                tags=Vocab(d["tags"], specials=False),
                tag_scheme=d["tag_scheme"],
                trainable_words=d.get("trainable_words"),
                # checkpoints made before plain text was tokenised: read as the default reads it now
                tokenizer=d.get("tokenizer", "syntok"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise TextlabError(f"invalid vocabulary (expected words, chars, tags and tag_scheme): {e}") from None


@dataclass
class ClassificationVocab:
    """Everything a classifier needs to turn text into ids and ids back into labels.

    It crosses from the data module to the model (and into the checkpoint) as a plain dict.
    """

    words: WordVocab
    labels: Vocab  # no specials: every example has exactly one real label
    tokenizer: Tokenizer = "whitespace"
    max_tokens: int | None = None
    label_counts: list[int] | None = None  # training examples per label, for class weights
    # words[:trainable_words] came from the training data; the rest only from a pretrained file. None: all of them.
    trainable_words: int | None = None

    def tokens(self, text: str) -> list[str]:
        tokens = tokenize(text, self.tokenizer)
        return tokens[: self.max_tokens] if self.max_tokens else tokens

    def to_dict(self) -> dict:
        return {
            "words": self.words.itos,
            "labels": self.labels.itos,
            "lowercase": self.words.lowercase,
            "digits": self.words.digits,
            "tokenizer": self.tokenizer,
            "max_tokens": self.max_tokens,
            "label_counts": self.label_counts,
            "trainable_words": self.trainable_words,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ClassificationVocab":
        try:
            return cls(
                words=WordVocab(d["words"], d.get("lowercase", False), d.get("digits", False)),
                labels=Vocab(d["labels"], specials=False),
                tokenizer=d.get("tokenizer", "whitespace"),
                max_tokens=d.get("max_tokens"),
                label_counts=d.get("label_counts"),
                trainable_words=d.get("trainable_words"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise TextlabError(f"invalid vocabulary (expected words and labels of a classifier): {e}") from None
