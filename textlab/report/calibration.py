"""Whether a model's probabilities mean what they say: the expected calibration error and a reliability diagram.

The ECE is torchmetrics' (``binary_calibration_error`` of each prediction's probability against whether it was
right; for a classifier that is ``multiclass_calibration_error`` of its class probabilities). torchmetrics does
not return its bins, which the diagram needs, so they are counted here: ``bins`` equal-width bins over [0, 1],
each ``[lower, upper)``, the last one closed. (torchmetrics puts a probability of exactly 1.0 in a bin of its own;
for probabilities below 1 the ECE of these bins equals its ECE.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics.functional.classification import binary_calibration_error


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """The ECE of predictions made with probability ``confidences``, right where ``correct``, and the diagram's bins.

    Returns ``{"ece", "predictions", "bins": [{"lower", "upper", "count", "confidence", "accuracy"}]}``; a bin's
    confidence and accuracy are the means over its predictions (None for an empty bin).
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    # a probability from float arithmetic may pass 1 by a rounding error; torchmetrics would take the whole input
    # for logits then and apply a sigmoid to it
    p = torch.tensor(list(confidences), dtype=torch.float64).clamp(0.0, 1.0)
    right = torch.tensor(list(correct), dtype=torch.long)
    if p.numel() != right.numel():
        raise ValueError(f"{p.numel()} confidences but {right.numel()} outcomes")
    if not p.numel():
        return {"ece": None, "predictions": 0, "bins": []}
    ece = binary_calibration_error(p, right, n_bins=bins, norm="l1").item()
    # torchmetrics' boundaries and rule, with 1.0 in the last bin
    index = (torch.bucketize(p, torch.linspace(0, 1, bins + 1, dtype=p.dtype), right=True) - 1).clamp(max=bins - 1)
    table = []
    for k in range(bins):
        inside = index == k
        n = int(inside.sum())
        table.append({"lower": k / bins, "upper": (k + 1) / bins, "count": n,
                      "confidence": p[inside].mean().item() if n else None,
                      "accuracy": right[inside].double().mean().item() if n else None})
    return {"ece": ece, "predictions": int(p.numel()), "bins": table}

