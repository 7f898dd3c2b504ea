"""Texts -> ids for the classifier, in plain Python: the encoding that training, ``TextClassifier.predict`` and
the torch-free ``textlab.runtime`` share (``textlab.data.classification_batch`` pads the ids into tensors, the
runtime into numpy arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textlab.data.vocab import ClassificationVocab


@dataclass
class EncodedExample:
    text: str
    words: list[int]  # at least one id: an empty prediction input becomes [<unk>]
    label: int | None
    id: Any = None  # a prediction input record's "id", carried to its result


def encode_example(text: str, label: str | None, vocab: ClassificationVocab, text_id: Any = None) -> EncodedExample:
    """Ids for one text. Unknown gold labels are the caller's to check (they need file and line)."""
    ids = [vocab.words.id(t) for t in vocab.tokens(text)] or [1]
    return EncodedExample(text, ids, None if label is None else vocab.labels.id(label), text_id)
