"""Entity-level (span) precision / recall / F1, equal to seqeval's default (conlleval) mode.

The maths lives in plain functions (``extract_spans``, ``count_spans``, ``_prf``) and the
``SpanF1`` metric only accumulates integer counts, so it is exact across batches and under DDP:
the states are per-type counts reduced with ``sum``, and all ratios are taken once, in ``compute``.

Why this equals ``seqeval.metrics.f1_score(y_true, y_pred)``: seqeval joins the sentences with an
``"O"`` between them, chunks the result with ``get_entities`` (which ``extract_spans`` follows rule
for rule, see ``textlab.metrics.spans``) and compares per-type *sets* of ``(start, end)``. A chunk
never crosses that ``"O"``, so chunking each sentence on its own gives the same spans (shifted), and
spans of different sentences never collide in the sets. (The one exception is garbage tags with an
unknown prefix and no type, e.g. ``"X"``, which conlleval itself mis-chunks; they never appear in a
valid IOB1/IOB2/BIOES tag set.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

# the chunker lives in a torch-free module (textlab.runtime uses it); re-exported for the existing imports
from textlab.metrics.spans import end_of_chunk, extract_spans, prefix_and_type, start_of_chunk, types_from_tags

__all__ = ["SpanF1", "chunk_rules", "count_span_sets", "count_spans", "extract_spans", "types_from_tags"]


def chunk_rules(tags: Sequence[str]) -> tuple[Tensor, Tensor, list[str | None]]:
    """The rules by which ``extract_spans`` chunks, over the tag vocabulary ``tags`` (K tags).

    Returns ``(starts, ends, types)``: bool (K, K) tensors where ``starts[p, n]`` is true when tag ``n`` after
    tag ``p`` starts a chunk and ``ends[p, n]`` when it ends the chunk that ``p`` is in, and each tag's entity
    type (None for ``O``). A chunk of type X is reported from s to e exactly when tags s..e all have type X,
    a chunk starts at s (any tag but ``O`` does at the first token), none starts or ends within s+1..e, and
    one ends after e (any tag but ``O`` does at the last token).
    """
    parts = [prefix_and_type(t) for t in tags]
    starts = [[start_of_chunk(p, n, p_type, n_type) for n, n_type in parts] for p, p_type in parts]
    ends = [[end_of_chunk(p, n, p_type, n_type) for n, n_type in parts] for p, p_type in parts]
    types = [None if prefix == "O" else type_ for prefix, type_ in parts]
    return torch.tensor(starts, dtype=torch.bool), torch.tensor(ends, dtype=torch.bool), types


def count_spans(
    preds: Sequence[Sequence[str]], targets: Sequence[Sequence[str]], types: Sequence[str]
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-type ``(tp, n_pred, n_gold)`` LongTensors of shape ``(len(types),)`` over a batch of tag sentences.

    A true positive is a predicted span with exactly the type and boundaries of a gold span.
    """
    if len(preds) != len(targets):
        raise ValueError(f"got {len(preds)} predicted sentences but {len(targets)} target sentences")
    for i, (pred, gold) in enumerate(zip(preds, targets)):
        if len(pred) != len(gold):
            raise ValueError(f"sentence {i}: {len(pred)} predicted tags but {len(gold)} target tags")
    return count_span_sets([extract_spans(p) for p in preds], [extract_spans(g) for g in targets], types)


def count_span_sets(
    preds: Sequence[Sequence[tuple[str, int, int]]], targets: Sequence[Sequence[tuple[str, int, int]]],
    types: Sequence[str],
) -> tuple[Tensor, Tensor, Tensor]:
    """``count_spans`` over sentences already chunked into ``(type, start, end)`` spans."""
    if len(preds) != len(targets):
        raise ValueError(f"got {len(preds)} predicted sentences but {len(targets)} target sentences")
    index = {t: i for i, t in enumerate(types)}

    def col(span_type: str) -> int:
        if span_type not in index:
            raise ValueError(f"entity type {span_type!r} is not one of the metric's types {list(types)}")
        return index[span_type]

    tp, n_pred, n_gold = ([0] * len(types) for _ in range(3))
    for pred, gold in zip(preds, targets):
        pred_spans, gold_spans = set(map(tuple, pred)), set(map(tuple, gold))
        for span in pred_spans:
            n_pred[col(span[0])] += 1
        for span in gold_spans:
            n_gold[col(span[0])] += 1
        for span in pred_spans & gold_spans:
            tp[col(span[0])] += 1
    return tuple(torch.tensor(c, dtype=torch.long) for c in (tp, n_pred, n_gold))  # type: ignore[return-value]


def _prf(tp: Tensor, n_pred: Tensor, n_gold: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Precision, recall, F1 from counts, with seqeval's formulas and its 0.0 on zero division."""
    # float64 makes the ratios bit-identical to seqeval's numpy maths; MPS has no float64.
    dtype = torch.float32 if tp.device.type == "mps" else torch.float64
    tp, n_pred, n_gold = tp.to(dtype), n_pred.to(dtype), n_gold.to(dtype)
    precision = torch.where(n_pred > 0, tp / n_pred.clamp(min=1), 0.0)
    recall = torch.where(n_gold > 0, tp / n_gold.clamp(min=1), 0.0)
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / torch.where(denom > 0, denom, 1.0), 0.0)
    return precision, recall, f1


class SpanF1(Metric):
    """Entity-level micro and per-type P/R/F1 for tag sequences (seqeval default mode), exact under DDP.

    ``update(preds, targets)`` takes lists of sentences, each a list of string tags. ``compute()``
    returns ``precision``, ``recall``, ``f1`` (micro), ``precision_<T>``, ``recall_<T>``, ``f1_<T>``
    for every type ``T`` (float tensors) and the micro counts ``tp``, ``n_pred``, ``n_gold`` (long
    tensors).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, types: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.types = list(types)
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"duplicate entity types in {self.types}")
        for name in ("tp", "n_pred", "n_gold"):
            self.add_state(name, torch.zeros(len(self.types), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Sequence[Sequence], targets: Sequence[Sequence], chunked: bool = False) -> None:
        """``preds`` and ``targets``: sentences of string tags; with ``chunked``, sentences already chunked into
        ``(type, start, end)`` spans (the tagger's own, found once when it decodes)."""
        counts = count_span_sets if chunked else count_spans
        self._add(*counts(preds, targets, self.types))

    def update_spans(self, preds: Sequence[Sequence[tuple[str, int, int]]],
                     targets: Sequence[Sequence[tuple[str, int, int]]]) -> None:
        """``update`` from sentences already chunked into spans; through ``update``, which torchmetrics counts."""
        self.update(preds, targets, chunked=True)

    def _add(self, tp: Tensor, n_pred: Tensor, n_gold: Tensor) -> None:
        self.tp += tp.to(self.tp.device)
        self.n_pred += n_pred.to(self.n_pred.device)
        self.n_gold += n_gold.to(self.n_gold.device)

    def compute(self) -> dict[str, Tensor]:
        tp, n_pred, n_gold = self.tp.sum(), self.n_pred.sum(), self.n_gold.sum()
        precision, recall, f1 = _prf(tp, n_pred, n_gold)
        out = {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}
        per_p, per_r, per_f = _prf(self.tp, self.n_pred, self.n_gold)
        for i, t in enumerate(self.types):
            out[f"precision_{t}"], out[f"recall_{t}"], out[f"f1_{t}"] = per_p[i], per_r[i], per_f[i]
        return out
