from __future__ import annotations

import pytest

from textlab.data.sentence import Sentence
from textlab.data.toy_ner import DESIGNATORS, generate_toy_ner, write_conll

TYPES = ["LOC", "MISC", "ORG", "PER"]


@pytest.fixture(scope="module")
def data() -> dict[str, list[Sentence]]:
    return generate_toy_ner()


def entities(sentence: Sentence) -> list[tuple[str, tuple[str, ...]]]:
    """(type, tokens) of each IOB2 entity."""
    out: list[tuple[str, list[str]]] = []
    for token, tag in zip(sentence.tokens, sentence.tags):
        if tag.startswith("B-"):
            out.append((tag[2:], [token]))
        elif tag.startswith("I-"):
            out[-1][1].append(token)
    return [(t, tuple(toks)) for t, toks in out]


def test_deterministic(data):
    assert generate_toy_ner(seed=0) == data
    assert generate_toy_ner(seed=1) != data
    assert generate_toy_ner(seed=1, num_train=50, num_val=20, num_test=20) == generate_toy_ner(
        seed=1, num_train=50, num_val=20, num_test=20
    )


def test_sizes_and_shapes(data):
    assert sorted(data) == ["test", "train", "val"]
    assert [len(data[k]) for k in ("train", "val", "test")] == [3000, 500, 500]
    small = generate_toy_ner(seed=3, num_train=10, num_val=4, num_test=6)
    assert [len(small[k]) for k in ("train", "val", "test")] == [10, 4, 6]
    for split in data.values():
        for s in split:
            assert isinstance(s, Sentence) and s.tags is not None
            assert len(s.tokens) == len(s.tags)
            assert 5 <= len(s.tokens) <= 20
            assert all(t and " " not in t for t in s.tokens)


def test_valid_iob2(data):
    allowed = {"O"} | {f"{p}-{t}" for p in "BI" for t in TYPES}
    for split in data.values():
        for s in split:
            prev = "O"
            for tag in s.tags:
                assert tag in allowed
                if tag.startswith("I-"):
                    assert prev in (f"B-{tag[2:]}", f"I-{tag[2:]}"), (s.tokens, s.tags)
                prev = tag


def test_types_multitoken_and_cues(data):
    for name, split in data.items():
        ents = [e for s in split for e in entities(s)]
        assert sorted({t for t, _ in ents}) == TYPES, name
        for typ in TYPES:
            assert any(len(toks) > 1 for t, toks in ents if t == typ), (name, typ)
        # capitalisation is not a perfect cue: capitalised O tokens exist
        assert any(tok[0].isupper() for s in split for tok, tag in zip(s.tokens, s.tags) if tag == "O")
        assert any(all(tag == "O" for tag in s.tags) for s in split)
        assert any(len(entities(s)) >= 3 for s in split)


def test_test_names_unseen_in_train(data):
    def names(split):
        return {toks for s in data[split] for _, toks in entities(s)}

    def name_tokens(split):
        return {t for toks in names(split) for t in toks if t not in DESIGNATORS and not t.endswith(".")}

    assert not names("test") & names("train")
    assert not names("val") & names("train")
    assert not names("test") & names("val")
    assert not name_tokens("test") & name_tokens("train")
    assert not name_tokens("val") & (name_tokens("train") | name_tokens("test"))


def test_write_conll_roundtrip(data, tmp_path):
    sentences = data["val"][:50] + [Sentence(tokens=["no", "tags"], tags=None)]
    path = tmp_path / "sub" / "val.conll"
    write_conll(sentences, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n\n")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(blocks) == len(sentences)
    for block, sentence in zip(blocks, sentences):
        rows = [line.split(" ") for line in block.split("\n")]
        assert [r[0] for r in rows] == sentence.tokens
        if sentence.tags is None:
            assert all(len(r) == 1 for r in rows)
        else:
            assert [r[1] for r in rows] == sentence.tags
