"""scripts/benchmark_tokenization.py on a small CoNLL file with documents, with the toy tagger."""

from __future__ import annotations

from conftest import load_script
from textlab.data.toy_ner import generate_toy_ner

benchmark = load_script("benchmark_tokenization")


def test_detokenised_text_keeps_every_gold_token_in_place() -> None:
    from sacremoses import MosesDetokenizer

    tokens = ['"', "I", "do", "n't", "know", ",", '"', "said", "Smith", "(", "Reuters", ")", "."]
    text, starts = benchmark.detokenize(tokens, MosesDetokenizer(lang="en"))
    assert text == '"I don\'t know," said Smith (Reuters).'
    assert [text[s : s + len(t)] for s, t in zip(starts, tokens)] == tokens


def test_the_table_compares_plain_text_with_gold_tokens(trained_tagger, tmp_path, capsys) -> None:
    sentences = generate_toy_ner(seed=5, num_train=0, num_val=0, num_test=40)["test"]
    path = tmp_path / "test.txt"
    with path.open("w", encoding="utf-8") as f:
        for d in range(4):  # four documents of ten sentences
            f.write("-DOCSTART- O\n\n")
            for s in sentences[10 * d : 10 * d + 10]:
                f.write("".join(f"{token} {tag}\n" for token, tag in zip(s.tokens, s.tags)) + "\n")
    rows = benchmark.main(["--ckpt", str(trained_tagger["best"]), "--data", str(path), "--threads", "1"])
    out = capsys.readouterr().out
    assert "4 documents, 40 sentences" in out and "| gold tokens | (pre-tokenised) |" in out
    gold = rows[0]
    assert gold["tokenizer"] == "(pre-tokenised)" and gold["f1"] > 0.5  # equal to seqeval's (the script checks)
    ours = [r for r in rows if r["tokenizer"] == "syntok (textlab)"]
    assert len(ours) == 2 and all(0 <= r["token_match"] <= 1 for r in ours)
    assert {r["tokenizer"] for r in rows} >= {"syntok as it comes", "segtok"}
