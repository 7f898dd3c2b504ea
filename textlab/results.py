"""What a model's predictions are: ``TaggedSentence`` with its ``Span`` entities, and ``Classification``.

Plain data with their text and JSON forms; the models make them, the prediction writer writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from textlab.data.conll import convert_tags
from textlab.metrics.span_f1 import extract_spans


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
    # the entities the tags mark, found once when the tags are decoded (seqeval's chunking, as the F1 counts them)
    spans: list[Span] = field(default_factory=list)
    # per token, P(its tag | the sentence), the tag's marginal probability; None unless asked for
    confidences: list[float] | None = None

    @classmethod
    def from_tags(cls, tokens: list[str], tags: list[str], chunks: list[tuple[str, int, int]] | None = None,
                  confidences: list[float] | None = None, span_confidences: list[float] | None = None
                  ) -> TaggedSentence:
        """The result for decoded ``tags``; ``chunks``: their ``(type, start, end inclusive)`` spans when the
        decoder has found them already, with ``span_confidences`` in the same order."""
        chunks = extract_spans(tags) if chunks is None else chunks
        span_confidences = span_confidences if span_confidences is not None else [None] * len(chunks)
        spans = [Span(label, s, e + 1, " ".join(tokens[s : e + 1]), p)
                 for (label, s, e), p in zip(chunks, span_confidences)]
        return cls(tokens, tags, spans, confidences)

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
        return replace(self, tags=convert_tags(self.tags, source, target))

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
