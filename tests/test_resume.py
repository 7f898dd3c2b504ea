"""Surviving faults: a fit killed with SIGKILL and resumed from last.ckpt ends exactly where an uninterrupted
fit ends; checkpoints are written atomically; the RNG states round-trip through a checkpoint."""

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TOY_CONFIG, metric_from_table, run_textlab
from textlab.callbacks.rng_state import KEY, RestoreRNGState, collect_rng_states, set_rng_states
from textlab.checkpoint_io import AtomicCheckpointIO

MAX_EPOCHS = 4
FIT = [
    "fit", "--config", TOY_CONFIG, "--data.num_train", "200", "--data.num_val", "40", "--data.num_test", "40",
    "--trainer.max_epochs", str(MAX_EPOCHS), "--seed_everything", "7", "--trainer.deterministic", "true",
    "--trainer.enable_progress_bar", "false",
    # textlab.cli may make these two defaults; naming them again is harmless
    "--trainer.callbacks+=textlab.callbacks.rng_state.RestoreRNGState",
    "--trainer.plugins", "textlab.checkpoint_io.AtomicCheckpointIO",
]
TEST_METRICS = ["test/f1", "test/precision", "test/recall", "test/loss", "test/tp", "test/n_pred"]


def fit_args(root):
    # A fixed logger version: the resumed run writes into the same checkpoint folder, so `--ckpt_path last`
    # finds last.ckpt and ModelCheckpoint gets its best score back (a new version_N folder loses it).
    logger = ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", root,
              "--trainer.logger.version", "run"]
    return [*FIT, "--trainer.default_root_dir", root, *logger]


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def val_rows(run_dir):
    """{epoch: (val/f1, val/loss)} from the CSV log; each epoch must appear once."""
    with open(run_dir / "lightning_logs" / "run" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/f1")]
    epochs = [int(r["epoch"]) for r in rows]
    assert len(epochs) == len(set(epochs)), f"an epoch validated twice: {epochs}"
    return {int(r["epoch"]): (float(r["val/f1"]), float(r["val/loss"])) for r in rows}


def wait_for_epoch(proc, last, epoch, log, timeout=300):
    """Poll until ``last`` holds a checkpoint of ``epoch`` or later (it is always complete: written atomically)."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"textlab fit ended (status {proc.returncode}) before a checkpoint of epoch {epoch}:\n"
                        + log.read_text()[-3000:])
        stamp = last.stat().st_mtime_ns if last.is_file() else None
        if stamp is not None and stamp != seen:
            seen = stamp
            if load(last)["epoch"] >= epoch:
                return
        time.sleep(0.02)
    pytest.fail(f"no checkpoint of epoch {epoch} within {timeout} s")


def fit_until_epoch(run_dir, epoch, stop_signal):
    """Start `textlab fit` in a subprocess and send it ``stop_signal`` once a checkpoint of ``epoch`` exists.

    Returns the ended process, its last.ckpt and its log file.
    """
    last = run_dir / "lightning_logs" / "run" / "checkpoints" / "last.ckpt"
    log = run_dir.parent / f"{run_dir.name}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    with open(log, "w") as out:
        # A shell without job control starts background commands with SIGINT ignored, and Python then never
        # turns SIGINT into KeyboardInterrupt: give the child the default, as a terminal's foreground job has.
        proc = subprocess.Popen([sys.executable, "-m", "textlab", *map(str, fit_args(run_dir))],
                                cwd=run_dir.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            wait_for_epoch(proc, last, epoch, log)
        finally:
            proc.send_signal(stop_signal)
            proc.wait(timeout=120)
    return proc, last, log


@pytest.fixture
def one_thread(monkeypatch):
    # the runs must do the same arithmetic; one thread each also keeps a small machine responsive
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")


def test_fit_killed_and_resumed_ends_like_an_uninterrupted_fit(tmp_path, one_thread):
    ref_dir, run_dir = tmp_path / "uninterrupted", tmp_path / "killed"
    ref = run_textlab(*fit_args(ref_dir), cwd=tmp_path)

    # the same fit, killed (no chance to clean up) once an epoch >= 1 checkpoint exists
    proc, last, _ = fit_until_epoch(run_dir, 1, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    saved = load(last)  # what resuming starts from (it may be newer than the one polled)
    assert 1 <= saved["epoch"] < MAX_EPOCHS - 1, "killed too late to test resuming"
    assert KEY in saved

    resumed = run_textlab(*fit_args(run_dir), "--ckpt_path", "last", cwd=tmp_path)
    assert f"Restoring states from the checkpoint path at {last}" in resumed.stdout + resumed.stderr

    # the resumed run validated exactly the epochs after the checkpoint's, with the uninterrupted run's scores
    # (CSVLogger starts metrics.csv afresh in a reused folder: the rows are the resumed run's alone)
    ref_val, resumed_val = val_rows(ref_dir), val_rows(run_dir)
    assert sorted(resumed_val) == list(range(saved["epoch"] + 1, MAX_EPOCHS))
    assert resumed_val == {e: ref_val[e] for e in resumed_val}

    ref_last, final = load(ref_dir / last.relative_to(run_dir)), load(last)
    assert (final["epoch"], final["global_step"]) == (ref_last["epoch"], ref_last["global_step"]) == (
        MAX_EPOCHS - 1, MAX_EPOCHS * saved["global_step"] // (saved["epoch"] + 1))
    for name, tensor in ref_last["state_dict"].items():
        assert torch.equal(final["state_dict"][name], tensor), name
    monitored = "ModelCheckpoint{'monitor': 'val/f1'"
    ckpt_state = next(s for k, s in final["callbacks"].items() if k.startswith(monitored))
    ref_ckpt_state = next(s for k, s in ref_last["callbacks"].items() if k.startswith(monitored))
    for key in ("best_model_score", "current_score"):  # best and final val/f1
        assert ckpt_state[key] == ref_ckpt_state[key], key
    for name in TEST_METRICS:  # the best checkpoint, tested after fit
        assert metric_from_table(resumed.stdout, name) == metric_from_table(ref.stdout, name), name
    print(  # shown with pytest -rP: the figures a resume report quotes
        f"killed after epoch {saved['epoch']} (step {saved['global_step']}); resumed to epoch {final['epoch']} "
        f"(step {final['global_step']}) like the uninterrupted run; final val/f1 {float(ckpt_state['current_score'])}, "
        + ", ".join(f"{n} {metric_from_table(resumed.stdout, n)}" for n in TEST_METRICS)
    )


@pytest.mark.parametrize("stop_signal, said", [
    (signal.SIGTERM, "stopped by SIGTERM"),  # as SLURM sends at the time limit
    (signal.SIGINT, "interrupted (Ctrl-C)"),
])
def test_fit_stopped_by_a_signal_exits_non_zero_and_says_how_to_resume(stop_signal, said, tmp_path, one_thread):
    proc, last, log = fit_until_epoch(tmp_path / "stopped", 0, stop_signal)
    assert load(last)["epoch"] < MAX_EPOCHS - 1, "stopped too late: the fit had finished"
    # not 0, which Lightning's SIGTERMException would give, nor Lightning's 1 after Ctrl-C
    assert proc.returncode == 128 + stop_signal
    assert log.read_text().strip().splitlines()[-1] == f"textlab: error: {said} before the end; resume with --ckpt_path last"


def test_on_a_terminal_the_error_line_of_a_fit_stopped_mid_epoch_starts_a_line_of_its_own(tmp_path, one_thread):
    # On a terminal the progress bar (stdout) and the error (stderr) share the screen. The bar redraws its
    # line with carriage returns and leaves it open while the epoch runs: the error must not be glued to it.
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # tqdm draws nothing 0 wide
    command = [sys.executable, "-m", "textlab", "fit", "--config", str(TOY_CONFIG), "--trainer.max_epochs", "2",
               "--trainer.default_root_dir", str(tmp_path / "run")]  # the progress bar on, as by default
    proc = subprocess.Popen(command, cwd=tmp_path, stdin=terminal, stdout=terminal, stderr=terminal,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    os.close(terminal)
    out, deadline = b"", time.monotonic() + 120
    try:
        while b"Epoch 0:" not in out and time.monotonic() < deadline and proc.poll() is None:  # a bar is drawn
            if select.select([master], [], [], 0.5)[0]:
                out += os.read(master, 65536)
        proc.send_signal(signal.SIGTERM)
        while True:  # the rest, until the terminal closes (EIO on Linux once the process has gone)
            try:
                chunk = os.read(master, 65536) if select.select([master], [], [], 5)[0] else b""
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=120)
        os.close(master)
    assert b"Epoch 0:" in out and proc.returncode == 128 + signal.SIGTERM
    assert b"\ntextlab: error: stopped by SIGTERM before the end; resume with --ckpt_path last" in out, out[-400:]


# -- atomic checkpoints ------------------------------------------------------------------------------


def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    io, target = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, target)
    before = target.read_bytes()

    real_save = torch.save

    def save_half_then_die(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # like a signal arriving mid-write

    monkeypatch.setattr(torch, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.ckpt"]

    monkeypatch.setattr(torch, "save", real_save)
    (tmp_path / ".last.ckpt.tmp").write_bytes(b"left by a SIGKILL")
    io.save_checkpoint({"step": torch.tensor(3)}, target)
    assert load(target)["step"] == 3
    assert os.listdir(tmp_path) == ["last.ckpt"]  # the leftover was overwritten and renamed


def test_a_temporary_file_left_by_a_kill_does_not_count_as_an_hpc_checkpoint(tmp_path, monkeypatch):
    from lightning.pytorch.trainer.connectors.checkpoint_connector import _CheckpointConnector

    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, tmp_path / "hpc_ckpt_1.ckpt")

    written = []

    def die(obj, f, *args, **kwargs):
        written.append(f.name)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", die)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, tmp_path / "hpc_ckpt_2.ckpt")
    Path(written[0]).write_bytes(b"half")  # the temporary file as a SIGKILL would leave it (no except clause runs)
    assert _CheckpointConnector._CheckpointConnector__max_ckpt_version_in_folder(tmp_path) == 1


def test_atomic_save_creates_folders_and_defers_remote_paths_to_lightning(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"x": torch.ones(2)}, tmp_path / "new" / "a.ckpt")
    assert torch.equal(io.load_checkpoint(tmp_path / "new" / "a.ckpt", weights_only=True)["x"], torch.ones(2))
    io.save_checkpoint({"x": torch.zeros(2)}, "memory://textlab-test/b.ckpt")  # fsspec's in-memory file system
    assert torch.equal(io.load_checkpoint("memory://textlab-test/b.ckpt", weights_only=True)["x"], torch.zeros(2))


# -- RNG state -------------------------------------------------------------------------------------------


def draws():
    return torch.rand(4).tolist(), random.random(), np.random.rand()


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    states = collect_rng_states()
    expected = draws()
    torch.save(states, tmp_path / "rng.pt")
    draws()
    set_rng_states(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert draws() == expected


def test_callback_restores_at_fit_start_not_when_loading():
    callback, checkpoint = RestoreRNGState(), {}
    torch.manual_seed(5)
    callback.on_save_checkpoint(None, None, checkpoint)
    expected = torch.rand(3)

    callback.setup(None, None, "fit")
    callback.on_load_checkpoint(None, None, checkpoint)
    torch.rand(3)  # the draws between loading and fit start (the uninterrupted run made none)
    callback.on_fit_start(None, None)
    assert torch.equal(torch.rand(3), expected)
    callback.on_fit_start(None, None)  # restored once only
    assert not torch.equal(torch.rand(3), expected)


def test_callback_restores_at_once_when_loading_after_fit_start():
    callback, checkpoint = RestoreRNGState(), {}
    torch.manual_seed(5)
    callback.on_save_checkpoint(None, None, checkpoint)
    expected = torch.rand(3)

    callback.setup(None, None, "fit")
    callback.on_fit_start(None, None)
    callback.on_load_checkpoint(None, None, checkpoint)  # as strategies that restore after setup do
    assert torch.equal(torch.rand(3), expected)


def test_a_resumed_fit_keeps_the_best_epoch_from_before_the_restart(tmp_path):
    # 600 sentences: the best validation epoch is 2 of 0-3 (val F1 0.68, 0.86, 0.83 from epoch 1 on), so the
    # restart after epoch 2 must remember it
    settings = ["fit", "--config", TOY_CONFIG, "--data.num_train", "600", "--data.num_val", "60", "--data.num_test", "60"]
    straight = run_textlab(*settings, "--trainer.max_epochs", "4", "--trainer.default_root_dir", tmp_path / "a",
                           cwd=tmp_path)
    run_textlab(*settings, "--trainer.max_epochs", "3", "--trainer.default_root_dir", tmp_path / "b", cwd=tmp_path)
    resumed = run_textlab(*settings, "--trainer.max_epochs", "4", "--trainer.default_root_dir", tmp_path / "b",
                          "--ckpt_path", "last", cwd=tmp_path)
    best = [p for p in (tmp_path / "a").rglob("best-*.ckpt")]
    assert [p.name for p in best] == ["best-epoch=02.ckpt"], "the settings no longer make an epoch before the restart the best"
    assert [p.name for p in (tmp_path / "b").rglob("best-*.ckpt")] == ["best-epoch=02.ckpt"]
    assert metric_from_table(resumed.stdout, "test/f1") == metric_from_table(straight.stdout, "test/f1")
    # fit tested the best epoch's weights, not the last ones (here they differ)
    tested = {name: metric_from_table(run_textlab("test", "--config", TOY_CONFIG, *settings[3:], "--ckpt_path", ckpt,
                                                  "--trainer.default_root_dir", tmp_path / "t", cwd=tmp_path).stdout,
                                      "test/f1")
              for name, ckpt in (("best", best[0]), ("last", best[0].parent / "last.ckpt"))}
    assert tested["best"] == metric_from_table(straight.stdout, "test/f1") != tested["last"]
    # the checkpoints stay in the first run's folder; the logs of the second part are version_1's
    assert {p.parent.parent.name for p in (tmp_path / "b").rglob("*.ckpt")} == {"version_0"}
    with open(tmp_path / "b" / "lightning_logs" / "version_0" / "metrics.csv") as f:
        assert sorted({row["epoch"] for row in csv.DictReader(f) if row.get("val/f1")}) == ["0", "1", "2"]
