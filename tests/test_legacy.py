"""Checkpoints written before models were built from parts still load, converted on reading (textlab/legacy.py).

tests/data holds two such checkpoints, trained with textlab at commit d40d900 (a toy tagger with
min_entity_probability 0.3, a toy TextCNN averaged with a naive-Bayes logistic regression on bigrams), and
what that textlab predicted with them (legacy_expected.json).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from textlab.errors import TextlabError
from textlab.legacy import is_legacy
from textlab.predict import load_model

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "legacy_expected.json").read_text())


def test_old_tagger_predicts_as_before():
    model = load_model(DATA / "legacy_tagger.ckpt")
    assert model.hparams["decoder"]["init_args"]["min_entity_probability"] == 0.3
    results = model.predict(EXPECTED["sentences"], confidences=True)
    assert [r.tags for r in results] == EXPECTED["tags"]
    # The sums behind the confidences are float32 logs of up to 136 here (log Z), whose last bit is 1.5e-5: summed in
    # another order (the forward-backward's multiply-and-sum, docs/speed.md) they move by a few 1e-6 (3.6e-6 seen).
    for got, expected in zip(results, EXPECTED["confidences"]):
        assert got.confidences == pytest.approx(expected, abs=2e-5)


def test_old_classifier_with_its_linear_bag_predicts_as_before():
    model = load_model(DATA / "legacy_classifier.ckpt")
    assert type(model.ensemble).__name__ == "NgramLogisticRegression" and bool(model.ensemble.fitted)
    results = model.predict(EXPECTED["texts"])
    assert [r.label for r in results] == EXPECTED["labels"]
    for got, expected in zip(results, EXPECTED["probabilities"]):
        assert got.probabilities == pytest.approx(expected, abs=1e-6)


def test_textlab_predict_reads_an_old_checkpoint(tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("\n".join(EXPECTED["sentences"]) + "\n")
    done = subprocess.run([sys.executable, "-m", "textlab", "predict", "--ckpt_path", str(DATA / "legacy_tagger.ckpt"),
                           "--data.predict_file", str(text), "--output_format", "jsonl"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["tags"] for line in done.stdout.splitlines()] == EXPECTED["tags"]


def test_an_option_that_changed_predictions_is_refused_in_one_line(tmp_path):
    checkpoint = torch.load(DATA / "legacy_tagger.ckpt", weights_only=True)
    assert is_legacy(checkpoint["hyper_parameters"])
    checkpoint["hyper_parameters"]["frozen_word_copy"] = True
    path = tmp_path / "frozen_copy.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(TextlabError, match="trained with frozen_word_copy True, an option textlab no longer has"):
        load_model(path)
    done = subprocess.run([sys.executable, "-m", "textlab", "predict", "--ckpt_path", str(path),
                           "--data.predict_file", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"textlab: error: {path}: trained with frozen_word_copy")
    assert "Traceback" not in done.stderr
