"""A loaded textlab model -> its ONNX model, the vocabulary that goes with it, and the names of its inputs and
outputs: what ``textlab export`` writes."""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from textlab.errors import TextlabError
from textlab.export.trim import kept_words, trimmed_vocab


@dataclass
class ExportedModel:
    model: onnx.ModelProto
    vocab: dict  # the model's vocabulary dict, less any words trimmed away
    inputs: list[str]
    outputs: list[str]


def model_onnx(model, keep_pretrained: int | None = None) -> ExportedModel:
    """``model`` (a SequenceTagger or TextClassifier in eval mode), with only the training words and
    ``keep_pretrained`` pretrained-only words when that is set."""
    from textlab.models import SequenceTagger, TextClassifier

    rows = kept_words(model.vocab, keep_pretrained)
    vocab = trimmed_vocab(model.vocab, rows)
    if isinstance(model, SequenceTagger):
        from textlab.export import tagger_export

        return ExportedModel(tagger_export.tagger_onnx(model, rows), vocab, tagger_export.INPUTS, tagger_export.OUTPUTS)
    if isinstance(model, TextClassifier):
        from textlab.export import classifier_export

        return ExportedModel(classifier_export.classifier_onnx(model, rows), vocab, classifier_export.INPUTS,
                             classifier_export.OUTPUTS)
    raise TextlabError(f"ONNX export: {type(model).__name__} models cannot be exported (textlab exports "
                       "SequenceTagger and TextClassifier)")
