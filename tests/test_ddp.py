"""Several processes (DDP with gloo on the CPU): training works and metrics count every example once."""

import json
import os

from conftest import ROOT, TINY, TOY_CONFIG, metric_from_table, run_textlab

DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
COUNTS = ["test/tp", "test/n_pred", "test/n_gold", "test/f1", "test/precision", "test/recall"]


def test_ddp_fit_checkpoints_tests_and_shares_one_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTLAB_PROBE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    proc = run_textlab(
        "fit", "--config", TOY_CONFIG, *TINY, *DDP, "--trainer.default_root_dir", tmp_path,
        "--trainer.callbacks+=ddp_probe.RecordVocabulary", cwd=tmp_path,
    )
    assert next(tmp_path.rglob("last.ckpt")) and next(tmp_path.rglob("best-*.ckpt"))
    assert 0 <= metric_from_table(proc.stdout, "test/f1") <= 1
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["vocab"] == ranks[1]["vocab"] and ranks[0]["world_size"] == 2
    assert ranks[0]["threads"] == ranks[1]["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
    assert "CPU thread(s) per process" in proc.stderr


def test_one_and_two_processes_give_identical_test_counts(trained_tagger, tmp_path):
    # 61 test sentences: an odd number, which a padding distributed sampler would count as 62
    args = ["test", "--config", TOY_CONFIG, *TINY, "--data.num_test", "61", "--data.eval_batch_size", "8",
            "--ckpt_path", trained_tagger["best"], "--trainer.default_root_dir", tmp_path]
    one = run_textlab(*args, "--trainer.devices", "1", cwd=tmp_path).stdout
    two = run_textlab(*args, *DDP, cwd=tmp_path).stdout
    for name in COUNTS:
        assert metric_from_table(one, name) == metric_from_table(two, name), name
    assert metric_from_table(one, "test/n_gold") > 0
