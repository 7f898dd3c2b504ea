"""The user-facing commands on a CUDA GPU, each precision included; skipped where there is none (CI has none).

A checkpoint trained on the GPU must also test and predict on a machine without one: the runs below hide
the GPU (``CUDA_VISIBLE_DEVICES=""``) for those commands.
"""

import pytest
import torch

from conftest import ROOT, TAGGER_DATA, TOY_CONFIG, metric_from_table, run_textlab

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"]
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}
CLASSIFIER_DATA = ["--data.num_train", "600", "--data.num_val", "100", "--data.num_test", "100"]


def configs(*names):
    """``--config`` for each config under configs/, a variant stacked on its base."""
    return [arg for name in names for arg in ("--config", ROOT / "configs" / f"{name}.yaml")]


def fit_on_the_gpu(config, data, precision, run_dir, *extra):
    """``config``: the --config arguments."""
    proc = run_textlab("fit", *config, *data, *GPU, "--trainer.precision", precision, *extra,
                       "--trainer.default_root_dir", run_dir, cwd=run_dir, warnings=True)
    assert "GPU available: True (cuda), used: True" in proc.stdout + proc.stderr
    ckpts = sorted(run_dir.rglob("best-*.ckpt"))
    assert len(ckpts) == 1
    return proc, ckpts[0]


@pytest.mark.parametrize("precision", ["32-true", "16-mixed", "bf16-mixed"])
def test_tagger_trains_on_the_gpu_and_its_checkpoint_tests_and_predicts_without_one(precision, tmp_path):
    proc, best = fit_on_the_gpu(["--config", TOY_CONFIG], TAGGER_DATA, precision, tmp_path, "--trainer.max_epochs", "3")
    f1 = metric_from_table(proc.stdout, "test/f1")
    assert f1 > 0.5, f"the toy tagger learns on the CPU to about 0.75 in 3 epochs; {precision} on the GPU gave {f1}"

    tested = run_textlab("test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", best, "--trainer.default_root_dir", tmp_path / "cpu",
                         cwd=tmp_path, env=NO_GPU)
    assert "GPU available: False" in tested.stdout + tested.stderr
    # The CPU recomputes the scores in float32; only a near-tie in a mixed-precision emission could move a tag.
    assert metric_from_table(tested.stdout, "test/f1") == pytest.approx(f1, abs=0.01)

    (tmp_path / "in.txt").write_text("Maria Santos flew to Lisbon on Monday .\n")
    predicted = run_textlab("predict", "--ckpt_path", best, "--data.predict_file", "in.txt", cwd=tmp_path, env=NO_GPU)
    words = [line.split("\t")[0] for line in predicted.stdout.splitlines() if line.strip()]
    assert words == "Maria Santos flew to Lisbon on Monday .".split()


def test_tagger_checkpoint_predicts_the_same_on_the_gpu_and_the_cpu(tmp_path):
    from textlab.predict import load_model

    _, best = fit_on_the_gpu(["--config", TOY_CONFIG], TAGGER_DATA, "32-true", tmp_path, "--trainer.max_epochs", "2")
    sentences = ["Maria Santos flew to Lisbon on Monday .", "The Acme Corporation hired John Smith in Berlin ."]
    on_cpu = load_model(best).predict(sentences)
    on_gpu = load_model(best, map_location="cuda").predict(sentences)
    assert [s.tags for s in on_gpu] == [s.tags for s in on_cpu]


@pytest.mark.parametrize("names", [["cls_textcnn"], ["cls_textcnn", "cls_lstm"], ["cls_textcnn", "cls_bag"]],
                         ids=["cls_textcnn", "cls_lstm", "cls_bag"])
def test_classifier_trains_on_the_gpu_in_mixed_precision_and_tests_without_one(names, tmp_path):
    # cls_bag trains its sparse NgramBag with SparseAdam beside Adam: two optimisers under one gradient scaler.
    config = configs(*names)
    proc, best = fit_on_the_gpu(config, CLASSIFIER_DATA, "16-mixed", tmp_path, "--trainer.max_epochs", "3")
    acc = metric_from_table(proc.stdout, "test/acc")
    assert acc > 0.6
    tested = run_textlab("test", *config, *CLASSIFIER_DATA, "--ckpt_path", best,
                         "--trainer.default_root_dir", tmp_path / "cpu", cwd=tmp_path, env=NO_GPU)
    assert metric_from_table(tested.stdout, "test/acc") == pytest.approx(acc, abs=0.02)
