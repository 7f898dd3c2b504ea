"""What the server asks of a model: one call per batch, through the model's own Python API, and the JSON
records ``textlab predict --output_format jsonl`` writes for the results."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from lightning.pytorch import LightningModule

from textlab.metrics.span_f1 import types_from_tags
from textlab.models import SequenceTagger, TextClassifier
from textlab.results import TaggedDocument

# what a request gives: plain texts ({"text"} / {"texts"}) or pre-tokenised sentences ({"tokens"})
InputKind = Literal["texts", "tokens"]


class Predictor:
    def __init__(self, model: LightningModule, batch_size: int) -> None:
        """``model`` in eval mode (``load_model`` returns it so); ``batch_size``: sentences per forward pass."""
        if not isinstance(model, (SequenceTagger, TextClassifier)):
            raise TypeError(f"a SequenceTagger or a TextClassifier to serve, not {type(model).__name__}")
        self.model = model
        self.batch_size = batch_size
        self.task = "tagger" if isinstance(model, SequenceTagger) else "classifier"

    def run(self, key: tuple[InputKind, bool], items: list) -> list:
        """The results of one batch: ``items`` are texts (``kind`` texts) or token lists (``kind`` tokens)."""
        kind, confidences = key
        if self.task == "classifier":  # its probabilities come with every prediction
            texts = items if kind == "texts" else [" ".join(tokens) for tokens in items]
            return self.model.predict(texts, self.batch_size)
        if kind == "texts":
            return self.model.tag_texts(items, self.batch_size, confidences)
        return self.model.predict(items, self.batch_size, confidences)

    def records(self, kind: InputKind, results: list, confidences: bool) -> list[dict[str, Any]]:
        """One request's results as JSON records."""
        if self.task == "tagger" and kind == "texts":
            # tag_texts numbers the documents by their place in its batch, which held other requests' texts too
            results = [_numbered(document, number) for number, document in enumerate(results)]
        return [result.to_dict(confidences) for result in results]

    def info(self) -> dict[str, Any]:
        """What the model is, for GET /info."""
        vocab = self.model.vocab
        info: dict[str, Any] = {"model": type(self.model).__name__, "task": self.task}
        if self.task == "tagger":
            info.update(labels=types_from_tags(self.model.tags), tags=list(self.model.tags),
                        tag_scheme=vocab.tag_scheme)
        else:
            info["labels"] = list(self.model.labels)
        info["tokenizer"] = vocab.tokenizer
        return info


def _numbered(document: TaggedDocument, number: int) -> TaggedDocument:
    sentences = document.sentences
    if not sentences or sentences[0].origin.document == number:
        return document
    return TaggedDocument(document.text, [replace(s, origin=replace(s.origin, document=number)) for s in sentences])
