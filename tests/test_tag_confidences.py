"""Token and entity probabilities of decoded tags, against enumerating every tag sequence of small lattices."""

import itertools
import math

import pytest
import torch
import torchcrf

from textlab.metrics.span_f1 import extract_spans
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder, allowed_transitions, viterbi_decode
from textlab.modules.tag_confidences import tag_confidences
from textlab.modules.tag_lattice import log_partition, tag_marginals

TAGS = {
    "IOB2": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "BIOES": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"],
}
LENGTHS = [4, 3, 1]
CASES = [(scheme, constrained) for scheme in TAGS for constrained in (True, False)]


def random_lattice(scheme, constrained, generator):
    K = len(TAGS[scheme])
    transitions, start, end = (torch.randn(*shape, generator=generator) for shape in ((K, K), (K,), (K,)))
    if constrained:
        allowed, allowed_start, allowed_end = allowed_transitions(scheme, TAGS[scheme])
        transitions = transitions.masked_fill(~allowed, -math.inf)
        start, end = start.masked_fill(~allowed_start, -math.inf), end.masked_fill(~allowed_end, -math.inf)
    return transitions, start, end


def random_batch(K, generator):
    emissions = 2 * torch.randn(len(LENGTHS), max(LENGTHS), K, generator=generator)
    mask = torch.arange(max(LENGTHS))[None, :] < torch.tensor(LENGTHS)[:, None]
    return emissions, mask


def every_sequence(emissions_row, n, transitions, start, end):
    """(tag ids, probability) of every tag sequence of a sentence of n tokens, by brute force."""
    K = emissions_row.shape[-1]
    sequences = list(itertools.product(range(K), repeat=n))
    scores = torch.tensor([
        (start[y[0]] + end[y[-1]] + sum(emissions_row[t, y[t]] for t in range(n))
         + sum(transitions[y[t - 1], y[t]] for t in range(1, n))).item()
        for y in sequences
    ], dtype=torch.float64)
    return sequences, torch.softmax(scores, dim=0), torch.logsumexp(scores, dim=0)


@pytest.mark.parametrize("scheme,constrained", CASES)
def test_partition_and_marginals_equal_the_sums_over_every_sequence(scheme, constrained):
    generator = torch.Generator().manual_seed(0)
    lattice = random_lattice(scheme, constrained, generator)
    emissions, mask = random_batch(len(TAGS[scheme]), generator)
    log_z, marginals = log_partition(emissions, mask, *lattice), tag_marginals(emissions, mask, *lattice)
    for b, n in enumerate(LENGTHS):
        sequences, p, expected_log_z = every_sequence(emissions[b], n, *lattice)
        assert log_z[b].item() == pytest.approx(expected_log_z.item(), abs=1e-4)
        expected = torch.zeros(n, len(TAGS[scheme]), dtype=torch.float64)
        for y, py in zip(sequences, p):
            expected[torch.arange(n), list(y)] += py
        torch.testing.assert_close(marginals[b, :n].double(), expected, atol=1e-5, rtol=0)
        assert (marginals[b, n:] == 0).all()


def test_marginals_are_the_gradient_of_pytorch_crf_log_likelihood():
    # d(-log-likelihood)/d(emissions) = marginals - one-hot(gold): an independent check against the library
    generator = torch.Generator().manual_seed(1)
    K = len(TAGS["BIOES"])
    crf = torchcrf.CRF(K, batch_first=True)
    emissions, mask = random_batch(K, generator)
    emissions.requires_grad_(True)
    gold = torch.randint(K, mask.shape, generator=generator).masked_fill(~mask, 0)
    (-crf(emissions, gold, mask=mask, reduction="sum")).backward()
    expected = emissions.grad + torch.nn.functional.one_hot(gold, K) * mask[:, :, None]
    marginals = tag_marginals(emissions.detach(), mask, crf.transitions.detach(), crf.start_transitions.detach(),
                              crf.end_transitions.detach())
    torch.testing.assert_close(marginals, expected, atol=1e-5, rtol=0)


def test_a_softmax_tagger_lattice_gives_its_softmax():
    generator = torch.Generator().manual_seed(2)
    emissions, mask = random_batch(5, generator)
    marginals = tag_marginals(emissions, mask, *SoftmaxDecoder(TAGS["IOB2"], "IOB2").lattice(emissions))
    torch.testing.assert_close(marginals, torch.softmax(emissions, dim=-1) * mask[:, :, None])


@pytest.mark.parametrize("scheme,constrained", CASES)
def test_entity_probability_sums_every_sequence_in_which_the_chunker_finds_it(scheme, constrained):
    tags = TAGS[scheme]
    generator = torch.Generator().manual_seed(3)
    lattice = random_lattice(scheme, constrained, generator)
    emissions, mask = random_batch(len(tags), generator)
    decoded = viterbi_decode(emissions, mask, *lattice)
    # also tag sequences the lattice forbids or rates low, ill-formed ones included (I- after O): exact all the same
    other = torch.randint(len(tags), mask.shape, generator=generator).masked_fill(~mask, 0)
    checked = 0
    for paths in (decoded, other):
        scored = tag_confidences(emissions, mask, paths, tags, lattice)
        per_token, per_span = scored.tokens, scored.entities
        marginals = tag_marginals(emissions, mask, *lattice)
        for b, n in enumerate(LENGTHS):
            path = paths[b, :n].tolist()
            assert per_token[b] == pytest.approx([marginals[b, t, path[t]].item() for t in range(n)])
            sequences, p, _ = every_sequence(emissions[b], n, *lattice)
            chunks = [set(extract_spans([tags[i] for i in y])) for y in sequences]
            spans = extract_spans([tags[i] for i in path])
            assert len(per_span[b]) == len(spans)
            for span, probability in zip(spans, per_span[b]):
                expected = sum(py.item() for py, found in zip(p, chunks) if span in found)
                assert probability == pytest.approx(expected, abs=1e-5), (span, [tags[i] for i in path])
                checked += 1
    assert checked >= 4


def test_an_entity_is_never_more_probable_than_any_of_its_tags():
    generator = torch.Generator().manual_seed(4)
    tags = TAGS["BIOES"]
    decoder = CRFDecoder(tags, "BIOES")
    emissions, mask = random_batch(len(tags), generator)
    paths, _ = decoder.decode(emissions, mask)
    scored = tag_confidences(emissions, mask, paths, tags, decoder.lattice(emissions))
    per_token, per_span = scored.tokens, scored.entities
    for b, n in enumerate(LENGTHS):
        for (_, s, e), probability in zip(extract_spans([tags[i] for i in paths[b, :n].tolist()]), per_span[b]):
            assert 0 <= probability <= min(per_token[b][s : e + 1]) + 1e-6


def test_entities_under_the_minimum_probability_become_o_with_the_o_confidences():
    generator = torch.Generator().manual_seed(5)
    tags = TAGS["BIOES"]
    decoder = CRFDecoder(tags, "BIOES")
    emissions, mask = random_batch(len(tags), generator)
    emissions = torch.cat([emissions] * 8)  # more sentences, more entities to split by the threshold
    emissions += 0.5 * torch.randn(emissions.shape, generator=generator)
    mask = torch.cat([mask] * 8)
    paths, _ = decoder.decode(emissions, mask)
    everything = tag_confidences(emissions, mask, paths, tags, decoder.lattice(emissions))
    probabilities = [p for ps in everything.entities for p in ps]
    threshold = sorted(probabilities)[len(probabilities) // 2]
    assert min(probabilities) < threshold
    kept = tag_confidences(emissions, mask, paths, tags, decoder.lattice(emissions), threshold)
    marginals = tag_marginals(emissions, mask, *decoder.lattice(emissions))
    for b, n in enumerate(mask.sum(dim=1).tolist()):
        before = extract_spans([tags[i] for i in paths[b, :n].tolist()])
        after = extract_spans([tags[i] for i in kept.paths[b, :n].tolist()])
        assert after == [span for span, p in zip(before, everything.entities[b]) if p >= threshold]
        assert kept.entities[b] == [p for p in everything.entities[b] if p >= threshold]
        assert kept.tokens[b] == pytest.approx([marginals[b, t, i].item() for t, i in enumerate(kept.paths[b, :n])])


def test_without_token_confidences_the_same_entities_are_kept_and_scored():
    # decoding with min_entity_probability but no confidences asked skips the per-token pass, and the sums
    # altogether for a batch without entities; what it keeps must not change
    generator = torch.Generator().manual_seed(6)
    tags = TAGS["BIOES"]
    decoder = CRFDecoder(tags, "BIOES")
    emissions, mask = random_batch(len(tags), generator)
    paths, _ = decoder.decode(emissions, mask)
    full = tag_confidences(emissions, mask, paths, tags, decoder.lattice(emissions), 0.5)
    lean = tag_confidences(emissions, mask, paths, tags, decoder.lattice(emissions), 0.5, per_token=False)
    assert torch.equal(full.paths, lean.paths) and lean.spans == full.spans and lean.entities == full.entities
    assert any(full.entities) and lean.tokens == [None] * len(LENGTHS)
    outside = torch.full_like(paths, tags.index("O"))
    empty = tag_confidences(emissions, mask, outside, tags, decoder.lattice(emissions), 0.5, per_token=False)
    assert torch.equal(empty.paths, outside) and empty.spans == empty.entities == [[] for _ in LENGTHS]


@pytest.mark.parametrize("confidences", [False, True])
def test_the_tagger_s_spans_are_the_chunks_of_its_tags_with_and_without_a_minimum_probability(trained_tagger,
                                                                                              confidences):
    # TaggedSentence.spans is found once, at decoding: by the chunker on the tags, or from the decoder's own
    # chunks when it scored them (min_entity_probability, confidences); either way they must be the tags' chunks
    from textlab import load_model
    from textlab.data.toy_ner import generate_toy_ner

    sentences = [s.tokens for s in generate_toy_ner(seed=7, num_train=1, num_val=1, num_test=80)["test"]]
    model = load_model(trained_tagger["best"])
    assert type(model.decoder) is CRFDecoder and model.decoder.min_entity_probability == 0
    found = {}
    for minimum in (0.0, 0.5):
        decoder = CRFDecoder(model.tags, model.vocab.tag_scheme, min_entity_probability=minimum)
        decoder.load_state_dict(model.decoder.state_dict())
        model.decoder = decoder.eval()
        results = model.predict(sentences, batch_size=16, confidences=confidences)
        for tokens, result in zip(sentences, results):
            assert result.tokens == tokens
            assert [(s.label, s.start, s.end - 1) for s in result.spans] == extract_spans(result.tags)
            assert all(s.text == " ".join(tokens[s.start : s.end]) for s in result.spans)
            assert all((s.confidence is not None) == confidences for s in result.spans)
        found[minimum] = [set((s.label, s.start, s.end) for s in r.spans) for r in results]
    # the threshold dropped some entities, and only dropped: every entity kept was found without it
    assert sum(map(len, found[0.5])) < sum(map(len, found[0.0]))
    assert sum(map(len, found[0.5])) > 0
    assert all(kept <= every for kept, every in zip(found[0.5], found[0.0]))
