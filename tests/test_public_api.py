"""The Python API the README documents keeps its names whatever the package layout.

Apps and scripts import these; a move inside journeys/ must not break them silently.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from journeys.client import JourneysClient
from journeys.customers import identify
from journeys.store import Store

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_names_the_python_api_that_exists() -> None:
    readme = (REPO / "README.md").read_text()
    assert "from journeys.client import JourneysClient" in readme
    assert "journeys.customers.identify(store" in readme
    assert "from journeys.store import Store" in readme


def test_the_python_api_takes_what_the_readme_passes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    customer = identify(
        store, "c-ana", {"email": "ana@example.com", "consent": {"sms": True}}, source="t"
    )
    assert (customer["email"], customer["consent"]["sms"]) == ("ana@example.com", True)
    assert {"track", "identify"} <= {name for name, _ in inspect.getmembers(JourneysClient)}
