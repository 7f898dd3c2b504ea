"""The Dockerfile: hadolint finds nothing, and the image runs textlab as an unprivileged user."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).is_file():
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' installs it)")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_image_runs_as_a_user_and_can_serve() -> None:
    lines = [line.split() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    after_last_from = lines[max(i for i, words in enumerate(lines) if words[0] == "FROM"):]
    users = [words[1] for words in after_last_from if words[0] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert ["EXPOSE", "8080"] in after_last_from  # textlab serve's default port
    assert ["ENTRYPOINT", '["textlab"]'] in after_last_from
