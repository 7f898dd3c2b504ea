"""A ``TextClassifier`` -> one ONNX model: padded word ids and lengths in, each label's probability out."""

from __future__ import annotations

import onnx

from textlab.export.classifier_network import ClassifierNetwork
from textlab.export.onnx_export import export_network

INPUTS = ["words", "lengths"]
OUTPUTS = ["probabilities"]
DYNAMIC_AXES = {"words": {0: "B", 1: "T"}, "lengths": {0: "B"}, "probabilities": {0: "B"}}


def classifier_onnx(classifier, rows: int) -> onnx.ModelProto:
    """The classifier (in eval mode) with its first ``rows`` word rows as an ONNX model (``INPUTS`` -> ``OUTPUTS``)."""
    network = ClassifierNetwork(classifier, rows)
    # two texts of different lengths, so that no size of the example looks like a constant to the tracer
    batch = classifier.collate([classifier.encode("an exported text of six"), classifier.encode("two words")])
    example = {"words": batch.words.clamp(max=rows - 1), "lengths": batch.lengths}
    return export_network(network, example, "probabilities", DYNAMIC_AXES)
