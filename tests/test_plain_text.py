"""Plain text -> sentences -> tokens with character offsets (textlab/data/plain_text.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import textlab.data.plain_text as plain_text
from textlab.data.plain_text import (
    conll_style, document_sentences, jsonl_documents, split_sentences, stream_document, tokenize,
)
from textlab.errors import DataFormatError

ODD = [
    'Angela Merkel met Emmanuel Macron in Berlin, on Tuesday.',
    '"I don\'t know," said Zoë Ünal-Şahin in São Paulo.',  # quotes, clitic, non-ASCII, hyphen
    "Several   spaces\tand a tab  between   words .",
    "Windows line ends.\r\nSecond line of it.\r\n\r\nA new paragraph\r\n",
    "A paragraph without final punctuation\n\nand the next one",
    "  leading and trailing space  \n\n\n   \n",
    "Emoji 🙂 and CJK 東京 and combining e\u0301 marks.",
    "The U.S. and Mr. Smith of Acme Inc. met J. Doe at 5 p.m. (Reuters) --\n1. Item: +44 .500 McLean's.",
]


def all_tokens(text: str, tokenizer: str = "syntok"):
    return [(token, start) for _, tokens in split_sentences(text, tokenizer) for token, start in tokens]


@pytest.mark.parametrize("tokenizer", ["syntok", "whitespace", "basic"])
@pytest.mark.parametrize("text", ODD)
def test_every_token_is_the_original_substring(text: str, tokenizer: str) -> None:
    tokens = all_tokens(text, tokenizer)
    assert tokens, "every odd input has tokens"
    end = 0
    for token, start in tokens:
        assert text[start : start + len(token)] == token
        assert start >= end, "tokens come in order and do not overlap"
        end = start + len(token)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_offsets_hold_for_any_text(text: str) -> None:
    for tokenizer in ("syntok", "whitespace"):
        for sentence in document_sentences(text, tokenizer):
            for token, start in zip(sentence.tokens, sentence.origin.starts):
                assert text[start : start + len(token)] == token


def test_conll_conventions() -> None:
    tokens = [t for t, _ in all_tokens(ODD[-1])]
    for kept_whole in ("U.S.", "Mr.", "Inc.", "J.", "1.", "+44", ".500", "McLean"):
        assert kept_whole in tokens
    assert [t for t, _ in all_tokens("The Franco-German deal won 1-0.")] == [
        "The", "Franco-German", "deal", "won", "1-0", "."]
    assert [t for t, _ in all_tokens("They can't go")] == ["They", "ca", "n't", "go"]  # Penn Treebank, as CoNLL
    # a line break ends a sentence: a headline without a period stays out of the story's first sentence
    assert [len(tokens) for _, tokens in split_sentences("SOCCER - LATE GOAL\nLONDON 1996-08-30\nA goal won it.",
                                                         "syntok")] == [4, 2, 5]
    assert conll_style("a .b", [("a", 0), (".", 2), ("b", 3)]) == [("a", 0), (".", 2), ("b", 3)]


def test_paragraphs_and_sentence_numbers() -> None:
    text = "First one. Second one.\nThird.\n\n\nNew paragraph\n\nLast"
    sentences = list(document_sentences(text, "syntok", document=3, document_id="doc-7"))
    assert [(s.origin.paragraph, s.origin.sentence) for s in sentences] == [(0, 0), (0, 1), (0, 2), (1, 3), (2, 4)]
    assert {s.origin.document for s in sentences} == {3} and {s.origin.document_id for s in sentences} == {"doc-7"}
    assert [s.origin.text for s in sentences] == ["First one.", "Second one.", "Third.", "New paragraph", "Last"]
    lines = list(document_sentences("a b\n\nc d\r\ne", "whitespace"))
    assert [(s.tokens, s.origin.paragraph, s.origin.starts) for s in lines] == [
        (["a", "b"], 0, (0, 2)), (["c", "d"], 1, (5, 7)), (["e"], 1, (10,))]


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 14])
def test_a_streamed_document_reads_as_the_whole(monkeypatch, block: int) -> None:
    text = "\n".join(ODD) * 5 + "\nA last line without a line break"
    monkeypatch.setattr(plain_text, "_BLOCK_CHARS", block)
    monkeypatch.setattr(plain_text, "_MAX_BLOCK_CHARS", max(block * 4, 200))  # lines here are shorter than that
    whole = [(s.tokens, s.origin) for s in document_sentences(text, "syntok")]
    streamed = [(s.tokens, s.origin) for s in stream_document(text.splitlines(keepends=True), "syntok")]
    assert streamed == whole


def test_jsonl_documents_and_their_errors() -> None:
    lines = [(1, '{"text": "Paris is big.", "id": "a"}\n'), (2, "\n"), (3, '{"text": "Rome. Oslo."}\n')]
    sentences = list(jsonl_documents(lines, "in.jsonl", "syntok"))
    assert [(s.origin.document, s.origin.document_id, s.origin.sentence, s.tokens) for s in sentences] == [
        (0, "a", 0, ["Paris", "is", "big", "."]), (1, None, 0, ["Rome", "."]), (1, None, 1, ["Oslo", "."])]
    assert sentences[2].origin.starts == (6, 10)  # offsets into the record's own text
    with pytest.raises(DataFormatError, match=r"in.jsonl:2: not JSON"):
        list(jsonl_documents([(1, '{"text": "ok"}'), (2, '{"text": ')], "in.jsonl", "syntok"))
    with pytest.raises(DataFormatError, match=r'in.jsonl:1: expected a JSON object with a "text" string'):
        list(jsonl_documents([(1, '{"body": "ok"}')], "in.jsonl", "syntok"))


def test_tokenize_for_classifiers() -> None:
    assert tokenize("Isn't it great? Yes.", "basic") == ["Is", "n't", "it", "great", "?", "Yes", "."]
    assert tokenize("Isn't it great? Yes.", "syntok") == ["Is", "n't", "it", "great", "?", "Yes", "."]
    assert tokenize("pre tokenised , text", "whitespace") == ["pre", "tokenised", ",", "text"]


def test_tag_text_gives_character_offsets(trained_tagger) -> None:
    from textlab import load_model

    tagger = load_model(trained_tagger["best"])
    text = 'Yesterday "Maria Schmidt"  visited\r\nthe office of Acme Corp in Berlin\n\nLast paragraph, no period'
    document = tagger.tag_text(text, confidences=True)
    assert document.entities, "the toy tagger finds entities in this text"
    for span in document.entities:
        assert text[span.start_char : span.end_char] == span.text
    assert [s.origin.paragraph for s in document.sentences] == [0, 0, 1]
    # the same tags as the pre-tokenised API on the same tokens
    tokens = [s.tokens for s in document.sentences]
    assert [s.tags for s in tagger.predict(tokens)] == [s.tags for s in document.sentences]
    record = document.sentences[0].to_dict(confidences=True)
    assert {"document", "paragraph", "sentence", "start_char", "end_char", "text", "offsets"} <= record.keys()
    assert all(text[a:b] == t for (a, b), t in zip(record["offsets"], record["tokens"]))
    assert [d.text for d in tagger.tag_texts(["One.", "", "Two. Three."])] == ["One.", "", "Two. Three."]
    with pytest.raises(TypeError, match="not a string"):
        tagger.tag_texts("a string")


def test_predict_help_says_how_the_checkpoint_reads_text(trained_tagger) -> None:
    from conftest import run_textlab

    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--help", cwd=trained_tagger["dir"])
    text = " ".join(proc.stdout.split())
    assert "tokenizer: syntok" in text and "a line break ends one" in text
    assert "SequenceTagger tagging LOC, MISC, ORG, PER" in text
