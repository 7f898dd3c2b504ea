"""Using a trained model: ``load_model(ckpt)``, the prediction result types, and the prediction writer."""

from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import BasePredictionWriter

from textlab.checkpoint import read_hparams
from textlab.data.conll import convert_tags
from textlab.errors import TextlabError
from textlab.metrics.span_f1 import extract_spans

# Only these may be named by a checkpoint: a checkpoint must not make us import arbitrary code.
MODEL_PACKAGE = "textlab.models."


@dataclass(frozen=True)
class Span:
    label: str
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    text: str
    # P(the tags mark this entity, with this type and these boundaries | the sentence) under the model;
    # None unless confidences were asked for (``predict(..., confidences=True)``)
    confidence: float | None = None


@dataclass(frozen=True)
class TaggedSentence:
    tokens: list[str]
    tags: list[str]
    # per token, P(its tag | the sentence), the tag's marginal probability; None unless asked for
    confidences: list[float] | None = None
    # per span of ``spans``, in order; None unless asked for
    span_confidences: list[float] | None = field(default=None, repr=False)

    @cached_property
    def spans(self) -> list[Span]:
        """The entities the tags mark (seqeval's chunking, as the F1 counts them), with their confidences if any.

        Computed when first asked for, since ``textlab predict`` writes only the tags (the spans of 20,000
        toy sentences take about 0.25 s to build, some 2% of predicting them).
        """
        chunks = extract_spans(self.tags)
        confidences = self.span_confidences if self.span_confidences is not None else [None] * len(chunks)
        return [Span(label, s, e + 1, " ".join(self.tokens[s : e + 1]), confidence)
                for (label, s, e), confidence in zip(chunks, confidences)]

    def to_text(self, confidences: bool = False) -> str:
        """CoNLL-style output: ``token<TAB>tag`` lines (``token<TAB>tag<TAB>confidence``), then a blank line."""
        if not confidences:
            return "".join(f"{tok}\t{tag}\n" for tok, tag in zip(self.tokens, self.tags)) + "\n"
        if self.confidences is None:
            raise ValueError("this result holds no confidences: predict with confidences=True")
        return "".join(f"{tok}\t{tag}\t{p:.4f}\n" for tok, tag, p in zip(self.tokens, self.tags, self.confidences)) + "\n"

    def in_scheme(self, source: str, target: str) -> TaggedSentence:
        """The same result with its tags written in ``target`` (IOB2 or BIOES) instead of the model's ``source``
        scheme. The entities, and their confidences, stay those of the decoded tags; each token's confidence
        stays that of its decoded tag (``E-PER`` written as ``I-PER`` is the same decision)."""
        if source == target:
            return self
        converted = replace(self, tags=convert_tags(self.tags, source, target))
        converted.__dict__["spans"] = self.spans  # cached_property's slot: the spans as decoded
        return converted

    def to_json(self, confidences: bool = False) -> str:
        """One JSON line: tokens, tags and the entities they mark (label, token start and end, exclusive, and
        text); under ``confidences`` each entity's and each tag's probability as well."""
        if confidences and self.confidences is None:
            raise ValueError("this result holds no confidences: predict with confidences=True")
        entities = [{"label": s.label, "start": s.start, "end": s.end, "text": s.text,
                     **({"confidence": round(s.confidence, 4)} if confidences else {})} for s in self.spans]
        record = {"tokens": self.tokens, "tags": self.tags, "entities": entities}
        if confidences:
            record["confidences"] = [round(p, 4) for p in self.confidences]
        return json.dumps(record, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Classification:
    """One prediction: the label, every label's probability, and the text as given."""

    label: str
    probabilities: dict[str, float] = field(default_factory=dict)
    text: str = ""

    def to_text(self, confidences: bool = False) -> str:
        """``label<TAB>text`` (``label<TAB>probability<TAB>text``); a line break inside the text becomes a space:
        one line per input."""
        text = " ".join(self.text.splitlines())
        if confidences:
            return f"{self.label}\t{self.probabilities[self.label]:.4f}\t{text}\n"
        return f"{self.label}\t{text}\n"

    def to_json(self, confidences: bool = False) -> str:
        """One JSON line: the text as given, the label, and under ``confidences`` its probability and every label's."""
        record: dict[str, Any] = {"text": self.text, "label": self.label}
        if confidences:
            record["confidence"] = round(self.probabilities[self.label], 4)
            record["probabilities"] = {label: round(p, 4) for label, p in self.probabilities.items()}
        return json.dumps(record, ensure_ascii=False) + "\n"


def model_class(class_path: str, ckpt_path: str | os.PathLike) -> type[LightningModule]:
    """The textlab model class a checkpoint names; anything outside ``textlab.models`` is refused."""
    module_name, _, class_name = class_path.rpartition(".")
    cls = None
    if class_path.startswith(MODEL_PACKAGE):
        try:
            cls = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError:
            pass
    if not (isinstance(cls, type) and issubclass(cls, LightningModule)):
        raise TextlabError(f"{ckpt_path}: not a textlab model checkpoint (model class {class_path or 'missing'!r})")
    return cls


def load_model(ckpt_path: str | os.PathLike, map_location: str = "cpu") -> LightningModule:
    """The model of a textlab checkpoint, in eval mode, ready for ``model.predict([...])``.

    Needs nothing but the checkpoint: the vocabularies and all arguments are inside it.
    """
    cls = model_class(read_hparams(ckpt_path).get("_class_path", ""), ckpt_path)
    model = cls.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True)
    return model.eval()


class PredictionWriter(BasePredictionWriter):
    """Writes each batch's predictions as it comes (``result.to_text(confidences)``, or ``to_json`` for
    ``output_format="jsonl"``), to a file or stdout.

    Writing per batch keeps memory flat however large the input; the file is only complete when the
    run ends, so it is written under a temporary name and renamed then. The file is opened in ``setup``,
    before any prediction, so a path that cannot be written fails at once, and an input without a single
    sentence still gives an (empty) output file. Lightning calls ``teardown`` only after a run that
    succeeded, so a failed one never replaces an earlier output.
    """

    def __init__(self, output: str | None = None, confidences: bool = False, output_format: str = "text",
                 tag_scheme: str | None = None) -> None:
        super().__init__(write_interval="batch")
        if output_format not in ("text", "jsonl"):
            raise TextlabError(f"--output_format {output_format}: expected text or jsonl")
        if tag_scheme not in (None, "IOB2", "BIOES"):
            raise TextlabError(f"--tag_scheme {tag_scheme}: expected IOB2 or BIOES (or null: the model's own)")
        self.output, self.confidences, self.output_format = output, confidences, output_format
        self.tag_scheme = tag_scheme
        self._model_scheme: str | None = None
        self._stream: Any = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "predict" or not trainer.is_global_zero:
            return  # every process predicts the whole input; the first one writes it
        if self.tag_scheme is not None:
            self._model_scheme = getattr(getattr(pl_module, "vocab", None), "tag_scheme", None)
            if self._model_scheme is None:
                raise TextlabError(f"--tag_scheme {self.tag_scheme}: for a tagger's output; this model is a classifier")
        if self.output in (None, "-"):
            self._stream = sys.stdout
            return
        if os.path.isdir(self.output):
            raise TextlabError(f"--output {self.output}: a folder; give the path of a file to write")
        folder = os.path.dirname(self.output)
        blocking = next((f for f in _ancestors(folder) if os.path.exists(f) and not os.path.isdir(f)), None)
        if blocking:
            raise TextlabError(f"--output {self.output}: {blocking} is a file, not a folder")
        try:
            os.makedirs(folder or ".", exist_ok=True)
            self._stream = open(self.output + ".partial", "w", encoding="utf-8")
        except OSError as e:
            raise TextlabError(f"--output {self.output}: cannot write there ({e.strerror})") from None

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        if self._stream is None:
            return
        if self._model_scheme is not None:
            prediction = [result.in_scheme(self._model_scheme, self.tag_scheme) for result in prediction]
        if self.output_format == "jsonl":
            self._stream.write("".join(result.to_json(self.confidences) for result in prediction))
        else:
            self._stream.write("".join(result.to_text(self.confidences) for result in prediction))

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._stream is None:
            return
        if self._stream is sys.stdout:
            sys.stdout.flush()
        else:
            self._stream.close()
            os.replace(self.output + ".partial", self.output)
        self._stream = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
            os.remove(self.output + ".partial")
        self._stream = None


def _ancestors(folder: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = []
    while folder and folder not in parts and os.path.dirname(folder) != folder:
        parts.append(folder)
        folder = os.path.dirname(folder)
    return parts[::-1]
