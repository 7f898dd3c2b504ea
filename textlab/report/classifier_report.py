"""A classifier's report: per-class scores, the confusion matrix, accuracy by text length, calibration of the class
probabilities, and the most confident mistakes.

The scores are torchmetrics' functions of the same name as the metrics the classifier logs (``test/acc``: micro
accuracy, ``test/macro_f1``, ``test/f1_<label>``), on the same predictions, so they equal them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy, multiclass_calibration_error, multiclass_confusion_matrix, multiclass_f1_score,
    multiclass_precision, multiclass_recall,
)

from textlab.report.calibration import reliability
from textlab.report.length_buckets import bucket_name, group_by_length
from textlab.report.records import ClassifiedText


def classifier_report(texts: Sequence[ClassifiedText], labels: Sequence[str], worst: int = 10, bins: int = 10) -> dict:
    """The report (plain data, for report.json) of classified ``texts``; ``labels``: the model's, in id order;
    ``worst``: how many of the most confident mistakes to list."""
    # one order whatever order the texts came in (several processes gather them in theirs)
    texts = sorted(texts, key=lambda t: (t.text, t.gold, t.predicted))
    K = len(labels)
    predicted = torch.tensor([t.predicted for t in texts], dtype=torch.long)
    gold = torch.tensor([t.gold for t in texts], dtype=torch.long)
    probabilities = torch.tensor([t.probabilities for t in texts], dtype=torch.float64).clamp(0.0, 1.0)  # (N, K)
    matrix = multiclass_confusion_matrix(predicted, gold, K)  # (K, K): rows gold, columns predicted

    def per_class(score) -> list[float]:
        return score(predicted, gold, K, average=None).tolist()

    precision, recall, f1 = per_class(multiclass_precision), per_class(multiclass_recall), per_class(multiclass_f1_score)
    right = (predicted == gold).tolist()
    confidence = probabilities.gather(1, predicted[:, None]).squeeze(1)  # (N,) the predicted label's probability
    calibration = reliability(confidence.tolist(), right, bins)
    # the same number, as torchmetrics computes it from all the class probabilities
    calibration["ece"] = multiclass_calibration_error(probabilities, gold, K, n_bins=bins, norm="l1").item()
    mistakes = sorted((i for i, ok in enumerate(right) if not ok), key=lambda i: -confidence[i].item())[:worst]
    return {
        "kind": "classifier",
        "texts": len(texts),
        "tokens": sum(t.length for t in texts),
        "overall": {
            "accuracy": multiclass_accuracy(predicted, gold, K, average="micro").item(),
            "macro_precision": multiclass_precision(predicted, gold, K, average="macro").item(),
            "macro_recall": multiclass_recall(predicted, gold, K, average="macro").item(),
            "macro_f1": multiclass_f1_score(predicted, gold, K, average="macro").item(),
        },
        "per_class": {label: {"precision": precision[k], "recall": recall[k], "f1": f1[k],
                              "support": int(matrix[k].sum())} for k, label in enumerate(labels)},
        "confusion": {"rows": list(labels), "columns": list(labels), "counts": matrix.tolist()},
        "by_length": [{"lengths": bucket_name(bucket), "texts": len(members),
                       "accuracy": sum(right[i] for i in members) / len(members)}
                      for bucket, members in group_by_length([t.length for t in texts]).items()],
        "calibration": {"unit": "predicted label", **calibration},
        "worst": [{"text": texts[i].text, "gold": labels[texts[i].gold], "predicted": labels[texts[i].predicted],
                   "confidence": confidence[i].item()} for i in mistakes],
    }
