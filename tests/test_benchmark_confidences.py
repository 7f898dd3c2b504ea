"""scripts/benchmark_confidences.py end to end on the shared toy tagger and a generated CoNLL file."""

import pytest
from seqeval.metrics import f1_score

from conftest import load_script
from textlab import load_model
from textlab.data.toy_ner import generate_toy_ner, write_conll


def test_calibration_table_and_thresholds_on_toy_data(trained_tagger, tmp_path, capsys):
    sentences = generate_toy_ner(seed=11, num_train=1, num_val=1, num_test=150)["test"]
    write_conll(sentences, tmp_path / "test.txt")
    result = load_script("benchmark_confidences").main(
        ["--ckpt", str(trained_tagger["best"]), "--data", str(tmp_path / "test.txt"), "--repeats", "1"])
    out = capsys.readouterr().out
    assert "| confidence | entities | mean confidence | correct |" in out and "ECE (10 bins)" in out
    # keeping every entity is plain tagging: its F1 is seqeval's on the predictions
    predicted = [r.tags for r in load_model(trained_tagger["best"]).predict([s.tokens for s in sentences])]
    assert result["thresholds"][0.0]["f1"] == pytest.approx(f1_score([s.tags for s in sentences], predicted))
    kept = [result["thresholds"][t]["kept"] for t in sorted(result["thresholds"])]
    assert kept == sorted(kept, reverse=True) and kept[0] > kept[-1]  # a threshold drops the least sure entities
    assert 0 <= result["ece"] <= 1 and result["seconds_confidences"] > 0
