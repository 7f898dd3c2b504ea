"""What a model's predictions are: ``TaggedSentence`` with its ``Span`` entities, and ``Classification``.

Plain data with their text and JSON forms; the models make them, the prediction writer writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from textlab.data.conll import convert_tags
from textlab.data.sentence import Origin
from textlab.metrics.spans import extract_spans


@dataclass(frozen=True)
class Span:
    label: str
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    text: str  # the original characters for a sentence of plain text; else the tokens joined by spaces
    # P(the tags mark this entity, with this type and these boundaries | the sentence) under the model;
    # None unless confidences were asked for (``predict(..., confidences=True)``)
    confidence: float | None = None
    # character offsets into the document (end exclusive), for a sentence cut out of plain text; else None
    start_char: int | None = None
    end_char: int | None = None

    def to_dict(self, confidences: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = {"label": self.label, "start": self.start, "end": self.end}
        if self.start_char is not None:
            record.update(start_char=self.start_char, end_char=self.end_char)
        record["text"] = self.text
        if confidences:
            record["confidence"] = round(self.confidence, 4)
        return record


@dataclass(frozen=True)
class TaggedSentence:
    tokens: list[str]
    tags: list[str]
    # the entities the tags mark, found once when the tags are decoded (seqeval's chunking, as the F1 counts them)
    spans: list[Span] = field(default_factory=list)
    # per token, P(its tag | the sentence), the tag's marginal probability; None unless asked for
    confidences: list[float] | None = None
    # where the sentence sits in its document, for a sentence cut out of plain text; None for tokens given as such
    origin: Origin | None = None

    @classmethod
    def from_tags(cls, tokens: list[str], tags: list[str], chunks: list[tuple[str, int, int]] | None = None,
                  confidences: list[float] | None = None, span_confidences: list[float] | None = None,
                  origin: Origin | None = None) -> TaggedSentence:
        """The result for decoded ``tags``; ``chunks``: their ``(type, start, end inclusive)`` spans when the
        decoder has found them already, with ``span_confidences`` in the same order."""
        chunks = extract_spans(tags) if chunks is None else chunks
        span_confidences = span_confidences if span_confidences is not None else [None] * len(chunks)
        spans = []
        for (label, s, e), p in zip(chunks, span_confidences):
            if origin is None:
                spans.append(Span(label, s, e + 1, " ".join(tokens[s : e + 1]), p))
            else:
                start_char, end_char, text = origin.char_span(tokens, s, e + 1)
                spans.append(Span(label, s, e + 1, text, p, start_char, end_char))
        return cls(tokens, tags, spans, confidences, origin)

    def to_text(self, confidences: bool = False) -> str:
        """CoNLL-style output: ``token<TAB>tag`` lines (``token<TAB>tag<TAB>confidence``), then a blank line. The
        first sentence of every plain-text document after the first starts with a ``-DOCSTART-`` line, as in CoNLL."""
        start = "-DOCSTART-\tO\n\n" if self.origin and self.origin.sentence == 0 and self.origin.document else ""
        if not confidences:
            return start + "".join(f"{tok}\t{tag}\n" for tok, tag in zip(self.tokens, self.tags)) + "\n"
        if self.confidences is None:
            raise ValueError("this result holds no confidences: predict with confidences=True")
        return start + "".join(f"{tok}\t{tag}\t{p:.4f}\n"
                               for tok, tag, p in zip(self.tokens, self.tags, self.confidences)) + "\n"

    def in_scheme(self, source: str, target: str) -> TaggedSentence:
        """The same result with its tags written in ``target`` (IOB2 or BIOES) instead of the model's ``source``
        scheme. The entities, and their confidences, stay those of the decoded tags; each token's confidence
        stays that of its decoded tag (``E-PER`` written as ``I-PER`` is the same decision)."""
        if source == target:
            return self
        return replace(self, tags=convert_tags(self.tags, source, target))

    def to_dict(self, confidences: bool = False) -> dict[str, Any]:
        """The JSON record: tokens, tags and the entities they mark (label, token start and end, exclusive, and
        text); for a sentence of plain text also where it is (document, its ``id`` if the input gave one,
        paragraph, sentence, ``start_char``/``end_char`` and ``text``), each token's ``offsets`` and each
        entity's ``start_char``/``end_char``; under ``confidences`` each entity's and each tag's probability."""
        if confidences and self.confidences is None:
            raise ValueError("this result holds no confidences: predict with confidences=True")
        record: dict[str, Any] = {}
        where = self.origin
        if where is not None:
            if where.document_id is not None:
                record["id"] = where.document_id
            record.update(document=where.document, paragraph=where.paragraph, sentence=where.sentence,
                          start_char=where.starts[0], end_char=where.starts[0] + len(where.text), text=where.text)
        record.update(tokens=self.tokens, tags=self.tags)
        if where is not None:
            record["offsets"] = [[s, s + len(t)] for s, t in zip(where.starts, self.tokens)]
        record["entities"] = [span.to_dict(confidences) for span in self.spans]
        if confidences:
            record["confidences"] = [round(p, 4) for p in self.confidences]
        return record

    def to_json(self, confidences: bool = False) -> str:
        """``to_dict`` as one JSON line."""
        return json.dumps(self.to_dict(confidences), ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class TaggedDocument:
    """A tagged plain-text document (``tagger.tag_text``): its sentences, and all its entities with character
    offsets into ``text``, as spaCy's ``doc.ents``."""

    text: str
    sentences: list[TaggedSentence]

    @property
    def entities(self) -> list[Span]:
        return [span for sentence in self.sentences for span in sentence.spans]

    def to_dict(self, confidences: bool = False) -> dict[str, Any]:
        """The text, its entities, and its sentences (each ``TaggedSentence.to_dict``)."""
        return {"text": self.text, "entities": [span.to_dict(confidences) for span in self.entities],
                "sentences": [sentence.to_dict(confidences) for sentence in self.sentences]}


@dataclass(frozen=True)
class Classification:
    """One prediction: the label, every label's probability, the text as given, and the ``id`` its input record
    gave it (JSON lines input; None otherwise)."""

    label: str
    probabilities: dict[str, float] = field(default_factory=dict)
    text: str = ""
    id: Any = None

    def to_text(self, confidences: bool = False) -> str:
        """``label<TAB>text`` (``label<TAB>probability<TAB>text``); a line break inside the text becomes a space:
        one line per input."""
        text = " ".join(self.text.splitlines())
        if confidences:
            return f"{self.label}\t{self.probabilities[self.label]:.4f}\t{text}\n"
        return f"{self.label}\t{text}\n"

    def to_dict(self, confidences: bool = False) -> dict[str, Any]:
        """The JSON record: the input's ``id`` if it gave one, the text as given, the label, and under ``confidences``
        its probability and every label's."""
        record: dict[str, Any] = {} if self.id is None else {"id": self.id}
        record.update(text=self.text, label=self.label)
        if confidences:
            record["confidence"] = round(self.probabilities[self.label], 4)
            record["probabilities"] = {label: round(p, 4) for label, p in self.probabilities.items()}
        return record

    def to_json(self, confidences: bool = False) -> str:
        """``to_dict`` as one JSON line."""
        return json.dumps(self.to_dict(confidences), ensure_ascii=False) + "\n"
