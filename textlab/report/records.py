"""What a report is built from: each evaluated sentence or text, with its gold answer and the model's.

``evaluate_batch`` predicts a labelled batch as the model's test step does (its ``forward`` and decoder, in eval
mode), keeping what the report needs and the probabilities; records are plain data, so they can be gathered
from several processes (``all_gather_object``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textlab.data.classification_batch import ClassificationBatch
from textlab.data.tagging_batch import TaggingBatch
from textlab.metrics.span_f1 import extract_spans
from textlab.report.span_errors import SpanTuple


@dataclass(frozen=True)
class EvaluatedSentence:
    tokens: list[str]
    gold: list[str]  # gold tags, in the model's scheme
    predicted: list[str]  # the decoded tags
    spans: list[SpanTuple]  # the decoded entities (end inclusive), as the F1 counts them
    confidences: list[float] | None  # each decoded entity's probability; None when the decoder gives none

    @property
    def gold_spans(self) -> list[SpanTuple]:
        return extract_spans(self.gold)


@dataclass(frozen=True)
class ClassifiedText:
    text: str
    gold: int  # label ids
    predicted: int
    probabilities: list[float]  # of every label
    length: int  # the tokens the model read


@torch.no_grad()
def evaluate_batch(model, batch) -> list[EvaluatedSentence] | list[ClassifiedText]:
    """The records of one labelled batch (a tagger's ``TaggingBatch`` or a classifier's ``ClassificationBatch``)."""
    if isinstance(batch, TaggingBatch):
        return _tagged(model, batch)
    if isinstance(batch, ClassificationBatch):
        return _classified(model, batch)
    raise TypeError(f"no report for batches of {type(batch).__name__}")


def _tagged(model, batch: TaggingBatch) -> list[EvaluatedSentence]:
    try:
        # the entity probabilities take one more pass over the lattice (forward-backward) than decoding alone
        results = model.predict_batch(batch, confidences=True)
    except NotImplementedError:  # a decoder without a lattice to take probabilities from
        results = model.predict_batch(batch, confidences=False)
    gold = [[model.tags[i] for i in row[:n]] for row, n in zip(batch.tags.tolist(), batch.lengths.tolist())]
    return [EvaluatedSentence(r.tokens, g, r.tags, [(s.label, s.start, s.end - 1) for s in r.spans],
                              None if r.confidences is None else [s.confidence for s in r.spans])
            for r, g in zip(results, gold)]


def _classified(model, batch: ClassificationBatch) -> list[ClassifiedText]:
    log_probabilities = model(batch)  # (B, K)
    predicted = log_probabilities.argmax(dim=-1)  # (B,) as the test step takes it
    return [ClassifiedText(text, gold, pred, probabilities, length)
            for text, gold, pred, probabilities, length in zip(
                batch.texts, batch.labels.tolist(), predicted.tolist(), log_probabilities.exp().tolist(),
                batch.lengths.tolist())]
