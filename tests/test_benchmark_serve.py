"""scripts/benchmark_serve.py end to end on the shared toy tagger, with tiny numbers (no timing is checked)."""

import torch

from conftest import load_script
from textlab.data.toy_ner import generate_toy_ner, write_conll


def test_the_table_has_a_row_per_concurrency_and_the_python_api_speed(trained_tagger, tmp_path, capsys):
    sentences = generate_toy_ner(seed=11, num_train=1, num_val=1, num_test=30)["test"]
    write_conll(sentences, tmp_path / "test.txt")
    threads = torch.get_num_threads()
    try:
        result = load_script("benchmark_serve").main(
            ["--ckpt", str(trained_tagger["best"]), "--data", str(tmp_path / "test.txt"), "--requests", "12",
             "--seconds", "60", "--concurrency", "1", "4", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # --threads sets this process's too, for the Python API's run
    out = capsys.readouterr().out
    assert "| concurrency | requests | requests/s | p50 ms | p99 ms | of the Python API's sentences/s |" in out
    assert "machine: " in out and "torch threads: 1" in out and "fastapi " in out and "uvicorn " in out
    assert [row["concurrency"] for row in result["rows"]] == [1, 4]
    for row in result["rows"]:
        assert row["requests"] == 12 and row["p50_ms"] <= row["p99_ms"]
        assert f"| {row['concurrency']} | 12 | " in out
    assert result["api_sentences_per_s"] > 0 and "Python API, model.tag_texts" in out


def test_sentences_are_read_from_conll_or_from_plain_text_lines(tmp_path):
    bench = load_script("benchmark_serve")
    sentences = generate_toy_ner(seed=11, num_train=1, num_val=1, num_test=5)["test"]
    write_conll(sentences, tmp_path / "test.txt")
    assert bench.read_sentences(tmp_path / "test.txt") == [" ".join(s.tokens) for s in sentences]
    (tmp_path / "plain.txt").write_text("EU rejects German call .\n\n  Peter Blackburn  \n")
    assert bench.read_sentences(tmp_path / "plain.txt") == ["EU rejects German call .", "Peter Blackburn"]
