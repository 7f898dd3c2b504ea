"""Several processes (DDP with gloo on the CPU): training works and metrics count every example once."""

import json
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

from conftest import ROOT, TINY, TOY_CONFIG, metric_from_table, run_textlab
from textlab.data import ConllFiles, TaggingDataModule

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
    # a gloo group left open to the interpreter's shutdown can abort a finished run (SIGABRT)
    for r in range(2):
        assert json.loads((tmp_path / f"rank{r}-at-exit.json").read_text()) == {"process_group_open": False}


def test_one_and_two_processes_give_identical_test_counts(trained_tagger, tmp_path):
    # 61 test sentences: an odd number, which a padding distributed sampler would count as 62
    args = ["test", "--config", TOY_CONFIG, *TINY, "--data.num_test", "61", "--data.eval_batch_size", "8",
            "--ckpt_path", trained_tagger["best"], "--trainer.default_root_dir", tmp_path]
    one = run_textlab(*args, "--trainer.devices", "1", cwd=tmp_path).stdout
    two = run_textlab(*args, *DDP, cwd=tmp_path).stdout
    for name in COUNTS:
        assert metric_from_table(one, name) == metric_from_table(two, name), name
    assert metric_from_table(one, "test/n_gold") > 0


def _seed_with_a_one_token_batch_on_rank_0_only(data_dir, batch_size, monkeypatch):
    """A seed whose first epoch gives rank 0 of 2 a batch of one-token sentences and rank 1 none, as the data
    module's own training loader shards and batches them (a fake trainer tells it the world size and rank)."""
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir)), batch_size=batch_size)
    dm.setup("fit")
    lengths = dm.lengths(dm.datasets["train"])
    for seed in range(1000):
        monkeypatch.setenv("PL_GLOBAL_SEED", str(seed))
        shares = []
        for rank in range(2):
            dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
            shares.append(list(dm.train_dataloader().batch_sampler))
        one_token_batch = [any(all(lengths[i] == 1 for i in batch) for batch in share) for share in shares]
        if one_token_batch == [True, False]:
            return seed
    raise AssertionError("no seed puts a batch of one-token sentences on rank 0 only")


def test_ddp_trains_when_one_process_gets_a_batch_of_one_token_sentences(tmp_path, monkeypatch):
    # pytorch-crf's loss on one-token sentences leaves the transition matrix out: the process holding
    # such a batch used to skip that all-reduce and the other waited for it forever (CoNLL hung).
    sentences = [[("SOCCER", "O")], [("Germany", "B-LOC")]] + [
        [("John", "B-PER"), ("Smith", "I-PER"), ("visited", "O"), ("Paris", "B-LOC")][: 2 + k % 3] for k in range(10)]
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n"
    for name in ("train.txt", "valid.txt", "test.txt"):
        (tmp_path / name).write_text(text)
    seed = _seed_with_a_one_token_batch_on_rank_0_only(tmp_path, 2, monkeypatch)
    command = [sys.executable, "-m", "textlab", "fit", "--config", str(ROOT / "configs" / "ner_bilstm_crf.yaml"),
               "--seed_everything", str(seed), "--data.files.data_dir", str(tmp_path), "--data.batch_size", "2",
               # the words part whole: jsonargparse reads `--model.init_args.words.init_args.pretrained null` as "None"
               "--model.init_args.words", json.dumps({"class_path": "textlab.modules.WordEmbeddings",
                                                      "init_args": {"dim": 8, "pretrained": None}}),
               "--data.init_args.words.add_pretrained_words", "null",
               "--model.init_args.encoder.init_args.hidden_size", "8",
               "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path), *DDP]
    # its own session, so that a hang can be ended with both processes (Lightning starts the second)
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("DDP training hung")
    assert proc.returncode == 0, err[-3000:]
    assert 0 <= metric_from_table(out, "test/f1") <= 1


def test_embeddings_unfrozen_during_training_are_refused_under_ddp(tmp_path):
    proc = run_textlab(
        "fit", "--config", TOY_CONFIG, *TINY, *DDP, "--trainer.default_root_dir", tmp_path,
        "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings", "--trainer.callbacks.unfreeze_at_epoch=1",
        cwd=tmp_path, check=False,
    )
    assert proc.returncode != 0
    assert "FreezeWordEmbeddings(unfreeze_at_epoch=1) does not work on several processes (2)" in proc.stderr
    assert "Traceback" not in proc.stderr
