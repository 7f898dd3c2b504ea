"""Texts -> ids -> batches for the classifier (the middle of file -> ... -> predictions).

Used by the data module for training and by ``TextClassifier.predict`` for raw text, so both encode
text the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import torch

from textlab.data.vocab import Vocab, WordVocab
from textlab.errors import TextlabError

Tokenizer = Literal["whitespace", "basic"]
# Penn-Treebank-like, as GloVe's corpora were tokenised: "didn't" -> did n't, "film's" -> film 's
_BASIC_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+|[^\w\s]")


def tokenize(text: str, tokenizer: Tokenizer = "whitespace") -> list[str]:
    """``whitespace`` splits on spaces (for pre-tokenised text); ``basic`` also splits off punctuation
    and clitics as the Penn Treebank (and GloVe) do: "isn't great!" -> is, n't, great, !."""
    if tokenizer == "basic":
        return _BASIC_TOKEN.findall(text)
    return text.split()


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
            )
        except (KeyError, TypeError, ValueError) as e:
            raise TextlabError(f"invalid vocabulary (expected words and labels of a classifier): {e}") from None


@dataclass
class EncodedExample:
    text: str
    words: list[int]  # at least one id: an empty prediction input becomes [<unk>]
    label: int | None


def encode_example(text: str, label: str | None, vocab: ClassificationVocab) -> EncodedExample:
    """Ids for one text. Unknown gold labels are the caller's to check (they need file and line)."""
    ids = [vocab.words.id(t) for t in vocab.tokens(text)] or [1]
    return EncodedExample(text, ids, None if label is None else vocab.labels.id(label))


@dataclass(init=False)
class ClassificationBatch:
    """A batch in both layouts; each encoder reads the one it needs. Lightning moves the tensors to the
    device; ``texts`` stays on the host.

    Padded (TextCNN, RNN): ``words`` (B, T) with 0 as padding, ``mask``, ``lengths``.
    Flat (EmbeddingBag): ``flat`` (N,) the real ids of all texts one after another, ``offsets`` (B,)
    where each text starts; no padding at all.
    """

    words: torch.Tensor  # (B, T) long, 0 = pad
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    lengths: torch.Tensor  # (B,) long, every length >= 1
    flat: torch.Tensor  # (N,) long, N = lengths.sum()
    offsets: torch.Tensor  # (B,) long, offsets[0] = 0
    labels: torch.Tensor | None  # (B,) long; None for unlabelled input
    # Not an init field (there is an __init__ below): Lightning's apply_to_collection, which moves every batch
    # to the device, keeps such fields as they are instead of visiting each text (as TaggingBatch.tokens).
    texts: list[str] = field(init=False)

    def __init__(self, words, mask, lengths, flat, offsets, labels, texts) -> None:
        self.words, self.mask, self.lengths = words, mask, lengths
        self.flat, self.offsets, self.labels = flat, offsets, labels
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)


def collate_classification(examples: list[EncodedExample]) -> ClassificationBatch:
    B = len(examples)
    lengths = torch.tensor([len(e.words) for e in examples], dtype=torch.long)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    flat = torch.tensor([i for e in examples for i in e.words], dtype=torch.long)
    # real tokens are left-aligned, so words[mask] lists them text by text, in the order of flat
    words = torch.zeros(B, T, dtype=torch.long)
    words[mask] = flat
    offsets = torch.cumsum(lengths, 0) - lengths
    labelled = all(e.label is not None for e in examples)
    labels = torch.tensor([e.label for e in examples], dtype=torch.long) if labelled else None
    return ClassificationBatch(words, mask, lengths, flat, offsets, labels, [e.text for e in examples])
