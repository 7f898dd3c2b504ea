"""What kind of error each entity is: the span categories of Chinchor & Sundheim (MUC), as nervaluate names them.

Written by hand: seqeval counts exact matches only, and nervaluate (the library for these categories) scores
each of its schemas separately without saying which gold span a prediction was judged against, which the
confusion matrix and the worst-sentence listing need; the rules fit in a few lines.

A span is ``(type, start, end)`` with ``end`` inclusive, as ``extract_spans`` (seqeval's chunker, the one the
F1 counts with) gives it. Within one sentence gold spans never overlap each other, nor predicted ones.

Each predicted span falls in exactly one category, so the predicted categories add up to the predictions:
- ``exact``: a gold span with the same type and boundaries (a true positive of the F1);
- ``wrong_type``: a gold span with the same boundaries and another type;
- ``wrong_boundary``: no such gold span, but an overlapping gold span of the same type;
- ``wrong_both``: overlapping gold spans, all of other types;
- ``spurious``: no gold span overlaps it.
A gold span that no prediction overlaps is ``missed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

SpanTuple = tuple[str, int, int]  # (type, start, end inclusive)

CATEGORIES = ("exact", "wrong_type", "wrong_boundary", "wrong_both", "missed", "spurious")
# the confusion matrix's extra row (a prediction with no gold entity) and column (a gold entity with no prediction)
SPURIOUS, MISSED = "spurious", "missed"


def overlap(a: SpanTuple, b: SpanTuple) -> int:
    """Tokens two spans share."""
    return max(0, min(a[2], b[2]) - max(a[1], b[1]) + 1)


def judge_prediction(span: SpanTuple, gold: Sequence[SpanTuple]) -> tuple[str, SpanTuple | None]:
    """The category of one predicted ``span`` among a sentence's ``gold`` spans, and the gold span it is judged
    against (None for spurious): the one with its boundaries, else the most overlapping one of its type, else the
    most overlapping one."""
    same_place = next((g for g in gold if g[1:] == span[1:]), None)
    if same_place is not None:
        return ("exact" if same_place[0] == span[0] else "wrong_type"), same_place
    touching = sorted((g for g in gold if overlap(g, span)), key=lambda g: -overlap(g, span))  # stable: first wins
    same_type = [g for g in touching if g[0] == span[0]]
    if same_type:
        return "wrong_boundary", same_type[0]
    if touching:
        return "wrong_both", touching[0]
    return "spurious", None


def judge_sentence(gold: Sequence[SpanTuple], predicted: Sequence[SpanTuple]
                   ) -> tuple[list[str], list[bool]]:
    """Each predicted span's category, in order, and for each gold span whether it was missed."""
    categories = [judge_prediction(span, gold)[0] for span in predicted]
    missed = [not any(overlap(g, p) for p in predicted) for g in gold]
    return categories, missed


def count_categories(gold: Sequence[Sequence[SpanTuple]], predicted: Sequence[Sequence[SpanTuple]]) -> dict[str, int]:
    """Every category's count over sentences of gold and predicted spans."""
    counts = Counter({name: 0 for name in CATEGORIES})
    for g, p in zip(gold, predicted):
        categories, missed = judge_sentence(g, p)
        counts.update(categories)
        counts["missed"] += sum(missed)
    return {name: counts[name] for name in CATEGORIES}


def confusion_pairs(gold: Sequence[SpanTuple], predicted: Sequence[SpanTuple]) -> list[tuple[str, str]]:
    """``(gold type, predicted type)`` pairs of one sentence for a span-level confusion matrix.

    Each gold span gives one pair, so a gold type's row adds up to its support: with the predicted span of the same
    boundaries, else the most overlapping one, else ``missed``. Each prediction that overlaps no gold span gives
    ``(spurious, its type)``.
    """
    pairs = []
    for g in gold:
        same_place = next((p for p in predicted if p[1:] == g[1:]), None)
        touching = sorted((p for p in predicted if overlap(p, g)), key=lambda p: -overlap(p, g))
        match = same_place or (touching[0] if touching else None)
        pairs.append((g[0], match[0] if match else MISSED))
    pairs += [(SPURIOUS, p[0]) for p in predicted if not any(overlap(p, g) for g in gold)]
    return pairs


def confusion_matrix(gold: Sequence[Sequence[SpanTuple]], predicted: Sequence[Sequence[SpanTuple]],
                     types: Sequence[str]) -> dict:
    """Rows: gold types, then ``spurious``; columns: predicted types, then ``missed``; cells: counts."""
    rows, columns = [*types, SPURIOUS], [*types, MISSED]
    counts = Counter(pair for g, p in zip(gold, predicted) for pair in confusion_pairs(g, p))
    return {"rows": rows, "columns": columns, "counts": [[counts[(r, c)] for c in columns] for r in rows]}
