"""deploy/compose.yaml under the real ``docker-compose config`` (the schema and the
interpolation compose applies before it starts anything), in a copy laid out as an
operator has it: deploy/.env made from deploy/.env.example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import docker_compose

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    """tmp/deploy/{compose.yaml,.env}: the build context (..) is tmp, as the repo root is."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", folder / "compose.yaml")
    shutil.copy(DEPLOY / ".env.example", folder / ".env")
    return folder


def config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), "-f", str(folder / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        cwd=folder.parent,
        env={"PATH": "/usr/bin:/bin"},  # nothing of the caller's environment is interpolated
    )


def resolved(folder: Path) -> dict[str, Any]:
    done = config(folder)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_file_is_valid_and_runs_the_production_path(deploy: Path) -> None:
    services = resolved(deploy)["services"]
    assert set(services) == {"postgresql", "temporal", "temporal-ui", "worker", "api"}
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    worker, api = services["worker"], services["api"]
    assert worker["command"] == ["worker"] and api["command"] == ["api"]
    assert worker["deploy"]["replicas"] == 2
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    for service in (worker, api):
        env = service["environment"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["JOURNEYS_DATABASE_URL"] == (
            "postgresql+psycopg://journeys:change-me@postgresql:5432/journeys"
        )


def test_the_number_of_workers_is_a_setting(deploy: Path) -> None:
    env = deploy / ".env"
    env.write_text(env.read_text().replace("JOURNEYS_WORKERS=2", "JOURNEYS_WORKERS=5"))
    assert resolved(deploy)["services"]["worker"]["deploy"]["replicas"] == 5


def test_no_secret_is_in_the_compose_file(deploy: Path) -> None:
    """Without deploy/.env's password compose refuses to start, naming what to set."""
    env = deploy / ".env"
    env.write_text(
        "".join(line for line in env.read_text().splitlines(True) if "PASSWORD" not in line)
    )
    done = config(deploy)
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in done.stderr


def test_a_broken_compose_file_fails(deploy: Path) -> None:
    compose = deploy / "compose.yaml"
    text = compose.read_text()
    compose.write_text(text.replace("    stop_grace_period: 60s", "    stop_grace_perod: 60s"))
    done = config(deploy)
    assert done.returncode != 0
    assert "stop_grace_perod" in done.stderr
