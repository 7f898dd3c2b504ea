"""SpanF1 must equal seqeval's default (conlleval) mode exactly, across update calls and under DDP."""

from __future__ import annotations

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from textlab.metrics.span_f1 import SpanF1, count_span_sets, count_spans, extract_spans, types_from_tags

# seqeval warns (UndefinedMetricWarning) on every zero division; 0.0 is what we compare against.
pytestmark = pytest.mark.filterwarnings("ignore")

TYPE_POOL = ["PER", "LOC", "ORG", "MISC", "GPE-X"]  # "GPE-X": a type that itself contains a hyphen


def close(a, b) -> bool:
    return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=1e-6)


def assert_matches_seqeval(out: dict, types: list[str], y_true, y_pred) -> None:
    """Micro P/R/F1 vs f1_score & co, per-type P/R/F1 vs classification_report(output_dict=True)."""
    assert close(out["f1"], f1_score(y_true, y_pred)), (out["f1"], f1_score(y_true, y_pred))
    assert close(out["precision"], precision_score(y_true, y_pred))
    assert close(out["recall"], recall_score(y_true, y_pred))
    report = classification_report(y_true, y_pred, output_dict=True)
    assert int(out["n_gold"]) == int(report["micro avg"]["support"])
    for t in types:
        if t in report:
            assert close(out[f"f1_{t}"], report[t]["f1-score"]), t
            assert close(out[f"precision_{t}"], report[t]["precision"]), t
            assert close(out[f"recall_{t}"], report[t]["recall"]), t
        else:  # a type seqeval never saw: no gold and no predicted span -> all zero
            assert out[f"f1_{t}"] == 0.0 and out[f"precision_{t}"] == 0.0 and out[f"recall_{t}"] == 0.0


@st.composite
def batches(draw):
    """(types, gold sentences, predicted sentences, update split points): random, often ill-formed tags."""
    types = draw(st.lists(st.sampled_from(TYPE_POOL), min_size=2, max_size=4, unique=True))
    tag = st.one_of(st.just("O"), st.builds(lambda p, t: f"{p}-{t}", st.sampled_from("BIES"), st.sampled_from(types)))
    gold, pred = [], []
    for _ in range(draw(st.integers(1, 8))):
        g = draw(st.lists(tag, min_size=1, max_size=15))
        # predictions copy gold tags or replace them, so that true positives are common
        noise = draw(st.lists(st.one_of(st.none(), tag), min_size=len(g), max_size=len(g)))
        gold.append(g)
        pred.append([gt if n is None else n for gt, n in zip(g, noise)])
    cuts = sorted(draw(st.lists(st.integers(0, len(gold)), max_size=3)))
    return types, gold, pred, cuts


@settings(max_examples=300, deadline=None)
@given(batches())
def test_equals_seqeval(batch):
    types, gold, pred, cuts = batch
    metric = SpanF1(types)
    bounds = [0, *cuts, len(gold)]
    for lo, hi in zip(bounds, bounds[1:]):  # several update calls, some possibly empty
        metric.update(pred[lo:hi], gold[lo:hi])
    out = metric.compute()
    assert_matches_seqeval(out, types, gold, pred)
    assert out["f1"].dtype == torch.float64 and out["tp"].dtype == torch.long


@settings(max_examples=200, deadline=None)
@given(batches())
def test_update_spans_equals_update_on_the_same_sentences(batch):
    # the tagger counts the spans it decoded once (update_spans); update chunks tag sentences itself
    types, gold, pred, cuts = batch
    from_tags, from_spans = SpanF1(types), SpanF1(types)
    bounds = [0, *cuts, len(gold)]
    for lo, hi in zip(bounds, bounds[1:]):
        from_tags.update(pred[lo:hi], gold[lo:hi])
        from_spans.update_spans([extract_spans(p) for p in pred[lo:hi]], [extract_spans(g) for g in gold[lo:hi]])
    expected, out = from_tags.compute(), from_spans.compute()
    assert out.keys() == expected.keys()
    for key in expected:
        assert torch.equal(out[key], expected[key]), key
    assert_matches_seqeval(out, types, gold, pred)


def test_count_span_sets_counts_each_distinct_span_once_and_checks_its_type():
    tp, n_pred, n_gold = count_span_sets([[("PER", 0, 1), ("LOC", 3, 3)]], [[("PER", 0, 1), ("PER", 3, 3)]],
                                         ["LOC", "PER"])
    assert tp.tolist() == [0, 1] and n_pred.tolist() == [1, 1] and n_gold.tolist() == [0, 2]
    with pytest.raises(ValueError, match="ORG"):
        count_span_sets([[("ORG", 0, 0)]], [[]], ["PER"])
    with pytest.raises(ValueError, match="sentences"):
        SpanF1(["PER"]).update_spans([[], []], [[]])


def test_extract_spans_and_types():
    assert extract_spans(["B-PER", "I-PER", "O", "S-LOC", "I-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3), ("LOC", 4, 4)]
    assert extract_spans(("O", "I-ORG", "I-ORG", "B-ORG")) == [("ORG", 1, 2), ("ORG", 3, 3)]  # IOB1, tuple input
    assert types_from_tags(["<pad>", "<unk>", "O", "B-PER", "I-PER", "S-LOC", "E-LOC", "B-GPE-X"]) == ["GPE-X", "LOC", "PER"]


def test_count_spans():
    tp, n_pred, n_gold = count_spans([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-PER"]], ["LOC", "PER"])
    assert tp.tolist() == [0, 1] and n_pred.tolist() == [1, 1] and n_gold.tolist() == [0, 2]
    assert tp.dtype == torch.long and tp.shape == (2,)


def test_errors():
    with pytest.raises(ValueError, match="ORG"):
        count_spans([["B-ORG"]], [["O"]], ["PER"])
    metric = SpanF1(["PER"])
    with pytest.raises(ValueError, match="tags"):
        metric.update([["O", "B-PER"]], [["O"]])
    with pytest.raises(ValueError, match="sentences"):
        metric.update([["O"], ["O"]], [["O"]])


def test_no_spans_and_reset():
    metric = SpanF1(["LOC", "PER"])
    metric.update([["O", "O"]], [["O", "O"]])
    out = metric.compute()
    assert out["f1"] == 0.0 and out["precision"] == 0.0 and out["recall"] == 0.0 and out["f1_PER"] == 0.0
    assert int(out["tp"]) == int(out["n_pred"]) == int(out["n_gold"]) == 0

    metric.reset()
    metric.update([["B-PER", "I-PER"]], [["B-PER", "I-PER"]])
    assert metric.compute()["f1"] == 1.0
    metric.reset()
    assert metric.tp.tolist() == metric.n_pred.tolist() == metric.n_gold.tolist() == [0, 0]
    metric.update([["B-PER", "O"]], [["O", "S-LOC"]])
    out = metric.compute()
    assert out["f1"] == 0.0 and int(out["n_pred"]) == 1 and int(out["n_gold"]) == 1


# --- DDP: 2 gloo processes on CPU, each with its own shard; both must see the union's scores ---------

TYPES = ["LOC", "ORG", "PER"]
GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["O", "B-ORG", "I-ORG", "I-ORG"],
    ["S-LOC", "O", "B-PER", "E-PER"],
    ["B-ORG", "O"],
    ["O", "O", "B-LOC", "I-LOC", "O"],
    ["I-PER", "I-PER", "B-ORG"],
]
PRED = [
    ["B-PER", "I-PER", "O", "B-ORG"],
    ["O", "B-ORG", "I-ORG", "O"],
    ["S-LOC", "O", "B-PER", "E-PER"],
    ["B-ORG", "O"],
    ["I-LOC", "O", "B-LOC", "I-LOC", "O"],
    ["I-PER", "I-PER", "B-ORG"],
]
SHARDS = {0: [0, 3], 1: [1, 2, 4, 5]}  # uneven shards; rank 1 updates twice


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        metric = SpanF1(TYPES)
        idx = SHARDS[rank]
        for part in (idx[:1], idx[1:]):
            metric.update([PRED[i] for i in part], [GOLD[i] for i in part])
        out = metric.compute()  # syncs the count states across ranks (sum)
        torch.save({k: v.cpu() for k, v in out.items()}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_ddp_two_ranks(tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    expected = SpanF1(TYPES)
    expected.update(PRED, GOLD)
    exp = expected.compute()
    for rank in (0, 1):
        out = torch.load(tmp_path / f"rank{rank}.pt")
        for k in ("tp", "n_pred", "n_gold"):
            assert int(out[k]) == int(exp[k]), (rank, k)
        assert_matches_seqeval(out, TYPES, GOLD, PRED)
    assert 0.0 < float(exp["f1"]) < 1.0  # the example is not degenerate


def test_a_tagged_sentence_gives_the_spans_its_tags_mark():
    """The prediction result's spans (found once, when the tags are decoded) are seqeval's chunks, with their text."""
    from textlab.results import Span, TaggedSentence

    tokens = ["EU", "rejects", "German", "call", "by", "Peter", "Blackburn", "of", "New", "York"]
    bioes = TaggedSentence.from_tags(tokens, ["S-ORG", "O", "S-MISC", "O", "O", "B-PER", "E-PER", "O", "B-LOC",
                                              "E-LOC"])
    expected = [Span("ORG", 0, 1, "EU"), Span("MISC", 2, 3, "German"), Span("PER", 5, 7, "Peter Blackburn"),
                Span("LOC", 8, 10, "New York")]
    assert bioes.spans == expected
    # IOB2 tags, and an I- without its B- (a softmax decoder can emit one): a span, as conlleval counts it
    iob2 = TaggedSentence.from_tags(tokens, ["B-ORG", "O", "B-MISC", "O", "O", "B-PER", "I-PER", "O", "O", "I-LOC"])
    assert iob2.spans == expected[:3] + [Span("LOC", 9, 10, "York")]
    assert TaggedSentence.from_tags([], []).spans == []
    # chunks the decoder found already are taken as given, with their confidences in order
    given = TaggedSentence.from_tags(tokens[:2], ["S-ORG", "O"], [("ORG", 0, 0)], [0.9, 0.8], [0.7])
    assert given.spans == [Span("ORG", 0, 1, "EU", 0.7)] and given.confidences == [0.9, 0.8]
    # a field, not recomputed from the tags: the plain constructor holds the spans it is given
    assert TaggedSentence(tokens[:1], ["S-ORG"]).spans == []


def test_update_spans_counts_as_an_update_for_torchmetrics():
    # torchmetrics counts calls of update() (compute warns without one, and forgets a cached result on one)
    from textlab.metrics.span_f1 import SpanF1

    metric = SpanF1(["PER"])
    metric.update_spans([[("PER", 0, 0)]], [[("PER", 0, 0)]])
    assert metric.update_called and metric.compute()["f1"].item() == 1.0
    metric.update_spans([[("PER", 1, 1)]], [[("PER", 0, 0)]])
    assert metric.compute()["f1"].item() == 0.5
