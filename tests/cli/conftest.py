"""Command-line tests that read the scenarios and templates shipped in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_SCENARIOS_DIR", str(REPO / "scenarios"))
    monkeypatch.setenv("JOURNEYS_TEMPLATES_DIR", str(REPO / "templates"))
