"""Shared fixtures: one tiny tagger trained through the real CLI entry point, reused by the CLI tests."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOY_CONFIG = ROOT / "configs" / "ner_toy.yaml"
# Small enough for CI, large enough that the tagger learns something.
TINY = ["--data.num_train", "300", "--data.num_val", "60", "--data.num_test", "60", "--trainer.max_epochs", "2"]
# The shared trained tagger's data: enough that it tags entities (test F1 about 0.75), so that the tests comparing
# its predictions compare entity tags, not a tagger that says O everywhere (TINY's reaches about 0.07).
TAGGER_DATA = ["--data.num_train", "600", "--data.num_val", "60", "--data.num_test", "60"]


def load_script(name):
    """A benchmark script under scripts/ as a module, to call its main() and helpers in-process."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Tests never reach the Hugging Face hub; an attempt fails at once instead of retrying.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _checkout_outputs() -> set[str]:
    """What runs leave in the checkout: its top-level entries and those of the usual log folders."""
    names = {entry.name for entry in ROOT.iterdir() if not entry.name.startswith(".")}
    for folder in ("lightning_logs", "runs"):
        if (ROOT / folder).is_dir():
            names |= {f"{folder}/{entry.name}" for entry in (ROOT / folder).iterdir()}
    return names


@pytest.fixture(autouse=True)
def _checkout_stays_clean():
    # A test writes under its tmp_path; a CLI or script run from the checkout's folder would leave
    # lightning_logs/ or runs/ there (and a user's benchmark would leave them in theirs).
    before = _checkout_outputs()
    yield
    left = sorted(_checkout_outputs() - before)
    assert not left, f"the test left {left} in the checkout {ROOT}"


def run_textlab(*args, cwd, check=True, timeout=600, warnings=False, env=None):
    """Run the installed CLI as a user would; returns the CompletedProcess. ``warnings``: show them on stderr;
    ``env``: variables to set for the run."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "ignore", **(env or {})}
    if warnings:
        env["PYTHONWARNINGS"] = "default"
    proc = subprocess.run(
        [sys.executable, "-m", "textlab", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"textlab {' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def metric_from_table(output: str, name: str) -> float:
    """A metric's value from the table Lightning prints after test/validate."""
    match = re.search(rf"{re.escape(name)}\s+[│|]?\s*([0-9.]+)", output)
    assert match, f"{name} not in output:\n{output[-2000:]}"
    return float(match.group(1))


@pytest.fixture(scope="session")
def trained_tagger(tmp_path_factory):
    """A toy tagger fitted by `textlab fit --config configs/ner_toy.yaml` on TAGGER_DATA, 3 epochs."""
    run_dir = tmp_path_factory.mktemp("toy_run")
    proc = run_textlab("fit", "--config", TOY_CONFIG, *TAGGER_DATA, "--trainer.max_epochs", "3",
                       "--trainer.default_root_dir", run_dir, cwd=run_dir)
    ckpts = sorted(run_dir.rglob("best-*.ckpt"))
    assert len(ckpts) == 1 and (ckpts[0].parent / "last.ckpt").is_file()
    assert metric_from_table(proc.stdout, "test/f1") > 0.5, "the shared tagger must tag entities for the tests to mean much"
    return {"dir": run_dir, "best": ckpts[0], "last": ckpts[0].parent / "last.ckpt", "fit_output": proc.stdout}
