"""A tagger's report: per-type scores, error categories, span confusions, F1 by sentence length, entities seen and
unseen in training, calibration of the entity probabilities, and the sentences with the most errors.

The per-type table is seqeval's ``classification_report`` (its default, conlleval mode, as ``SpanF1``), so the
report's overall precision, recall and F1 are the ones ``textlab test`` logs. The rest counts spans by the same
rule: an entity is right when its type and boundaries are.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

from seqeval.metrics import classification_report

from textlab.metrics.span_f1 import extract_spans
from textlab.report.calibration import reliability
from textlab.report.length_buckets import bucket_name, group_by_length
from textlab.report.records import EvaluatedSentence
from textlab.report.span_errors import SpanTuple, confusion_matrix, count_categories, judge_prediction

Entity = tuple[str, str]  # (type, the tokens joined by spaces)


def training_entities(sentences: Iterable) -> set[Entity]:
    """Every entity of the training sentences (tags in any scheme) by type and surface text."""
    return {(label, " ".join(s.tokens[start : end + 1])) for s in sentences for label, start, end in extract_spans(s.tags)}


def scores(tp: int, n_pred: int, n_gold: int) -> dict:
    """Counts and the precision, recall and F1 they give (0 where a ratio has no denominator, as seqeval)."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def _counts(pairs: Iterable[tuple[Sequence[SpanTuple], Sequence[SpanTuple]]]) -> tuple[int, int, int]:
    tp = n_pred = n_gold = 0
    for gold, predicted in pairs:
        gold, predicted = set(gold), set(predicted)
        tp, n_pred, n_gold = tp + len(gold & predicted), n_pred + len(predicted), n_gold + len(gold)
    return tp, n_pred, n_gold


def _number(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value  # seqeval's macro average of no types is NaN; JSON has no NaN


def tagger_report(sentences: Sequence[EvaluatedSentence], training: set[Entity] | None = None,
                  training_note: str = "", worst: int = 10, bins: int = 10) -> dict:
    """The report (plain data, for report.json) of evaluated ``sentences``.

    ``training``: the training entities, for scores on entities seen and unseen there; None to skip that part,
    saying why in ``training_note``. ``worst``: how many of the sentences with the most errors to list.
    """
    # one order whatever order the sentences came in (several processes gather them in theirs)
    sentences = sorted(sentences, key=lambda s: (s.tokens, s.gold, s.predicted))
    gold = [extract_spans(s.gold) for s in sentences]
    predicted = [s.spans for s in sentences]
    with warnings.catch_warnings():  # seqeval warns about a type it has no predictions for, and scores it 0
        warnings.simplefilter("ignore")
        table = classification_report([s.gold for s in sentences], [s.predicted for s in sentences],
                                      output_dict=True, zero_division=0)
    averages = ("micro avg", "macro avg", "weighted avg")
    per_type = {name: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                       "f1": float(row["f1-score"]), "support": int(row["support"])}
                for name, row in table.items() if name not in averages}
    tp, n_pred, n_gold = _counts(zip(gold, predicted))
    micro = table["micro avg"]
    overall = {**scores(tp, n_pred, n_gold),
               "precision": float(micro["precision"]), "recall": float(micro["recall"]), "f1": float(micro["f1-score"])}
    types = sorted(per_type)
    return {
        "kind": "tagger",
        "sentences": len(sentences),
        "tokens": sum(len(s.tokens) for s in sentences),
        "overall": overall,
        "per_type": per_type,
        "averages": {name: {key: _number(table[name][key]) for key in ("precision", "recall", "f1-score")}
                     for name in ("macro avg", "weighted avg")},
        "errors": count_categories(gold, predicted),
        "confusion": confusion_matrix(gold, predicted, types),
        "by_length": [{"lengths": bucket_name(bucket), "sentences": len(members),
                       **scores(*_counts((gold[i], predicted[i]) for i in members))}
                      for bucket, members in group_by_length([len(s.tokens) for s in sentences]).items()],
        "seen_unseen": _seen_unseen(sentences, gold, predicted, training, training_note),
        "calibration": _calibration(sentences, gold, bins),
        "worst": _worst(sentences, gold, worst),
    }


def _seen_unseen(sentences, gold, predicted, training: set[Entity] | None, note: str) -> dict:
    """Scores on entities whose type and text occur among the training entities, and on the others. A predicted
    entity is grouped by its own text, so a true positive is in the group of its gold entity."""
    if training is None:
        return {"note": note or "no training data at hand"}
    counts = {"seen": [0, 0, 0], "unseen": [0, 0, 0]}  # tp, n_pred, n_gold
    for s, g, p in zip(sentences, gold, predicted):
        def group(span: SpanTuple) -> list[int]:
            return counts["seen" if (span[0], " ".join(s.tokens[span[1] : span[2] + 1])) in training else "unseen"]
        g, p = set(g), set(p)
        for span in g:
            group(span)[2] += 1
        for span in p:
            group(span)[1] += 1
            group(span)[0] += span in g
    return {name: scores(*c) for name, c in counts.items()}


def _calibration(sentences, gold, bins: int) -> dict | None:
    """Each predicted entity's probability against whether it is right (type and boundaries): how far P(entity)
    can be trusted as the chance that a predicted entity is correct."""
    if any(s.confidences is None for s in sentences):
        return None
    confidences = [p for s in sentences for p in s.confidences]
    correct = [span in set(g) for s, g in zip(sentences, gold) for span in s.spans]
    return {"unit": "predicted entity", **reliability(confidences, correct, bins)}


def _worst(sentences, gold, n: int) -> list[dict]:
    """The ``n`` sentences with the most wrong entities (predicted and not gold, or gold and not predicted), each
    entity with its category (``span_errors``)."""
    errors = [len(set(g) ^ set(s.spans)) for s, g in zip(sentences, gold)]
    ranked = sorted((i for i, e in enumerate(errors) if e), key=lambda i: -errors[i])[:n]  # stable: sorted order
    listed = []
    for i in ranked:
        s, g = sentences[i], gold[i]
        confidences = s.confidences or [None] * len(s.spans)

        def entity(span: SpanTuple, category: str, confidence: float | None = None) -> dict:
            record = {"label": span[0], "start": span[1], "end": span[2] + 1,
                      "text": " ".join(s.tokens[span[1] : span[2] + 1]), "category": category}
            if confidence is not None:
                record["confidence"] = confidence
            return record

        predicted_entities = [entity(span, judge_prediction(span, g)[0], p) for span, p in zip(s.spans, confidences)]
        # a gold entity's category is that of the prediction best placed on it, as seen from the gold side
        gold_entities = [entity(span, judge_prediction(span, s.spans)[0].replace("spurious", "missed")) for span in g]
        listed.append({"errors": errors[i], "tokens": s.tokens, "gold": gold_entities, "predicted": predicted_entities})
    return listed
