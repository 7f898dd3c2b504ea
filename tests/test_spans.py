"""The torch-free chunker (textlab.metrics.spans) against the seqeval functions it follows."""

import random

from seqeval.metrics.sequence_labeling import end_of_chunk, get_entities, start_of_chunk

from textlab.metrics import spans

# every prefix the rules name, with types, and tags a model never makes but the rules still read
TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B", "I", ".-PER", "X",
        "B-LOC-X", "I-"]


def test_chunk_rules_equal_seqeval_on_every_pair_of_tags():
    parts = [spans.prefix_and_type(t) for t in TAGS] + [("O", "")]  # ("O", ""): the start of a sentence
    for p, p_type in parts:
        for n, n_type in parts:
            assert spans.start_of_chunk(p, n, p_type, n_type) == start_of_chunk(p, n, p_type, n_type), (p, p_type, n)
            assert spans.end_of_chunk(p, n, p_type, n_type) == end_of_chunk(p, n, p_type, n_type), (p, p_type, n)


def test_extract_spans_equals_get_entities_on_random_sequences():
    rng = random.Random(0)
    for _ in range(3000):
        tags = [rng.choice(TAGS[:9] if rng.random() < 0.7 else TAGS) for _ in range(rng.randint(0, 12))]
        assert spans.extract_spans(tags) == get_entities(list(tags)), tags


def test_extract_spans_with_its_cache_of_tag_pairs_full(monkeypatch):
    monkeypatch.setattr(spans, "_PAIRS_SIZE", 3)
    monkeypatch.setattr(spans, "_PAIRS", {})
    rng = random.Random(1)
    for _ in range(300):
        tags = [rng.choice(TAGS) for _ in range(rng.randint(0, 12))]
        assert spans.extract_spans(tags) == get_entities(list(tags)), tags
        assert len(spans._PAIRS) <= 3
