"""Badges and counters where people look: ``journeys customers show`` and
``GET /v1/customers/{id}``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from journeys.app.driver import JourneyDriver
from journeys.cli.main import app
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.events import Event
from journeys.store import Store

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_show_lists_badges_and_counters(data: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_LOYALTY_FILE", str(REPO / "loyalty.yaml"))
    data.customers.upsert("ana", email="ana@example.com")
    data.badges.award("ana", "three-in-thirty", source_ref="s1", at=AT)
    rules = LoyaltyProgram.load(REPO / "loyalty.yaml").counters
    for i in range(2):
        data.counters.count(Event(id=f"v{i}", name="store.visit", customer_id="ana"), rules)

    report = json.loads(CliRunner().invoke(app, ["customers", "show", "ana", "--json"]).output)
    shown = CliRunner().invoke(app, ["customers", "show", "ana"]).output

    assert report["badges"] == ["three-in-thirty"]
    assert report["counters"] == {"purchases_30d": 0, "visits": 2}
    assert "badges: three-in-thirty" in shown and "visits" in shown


async def test_the_api_shows_badges_with_the_customer(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = f"api-{uuid.uuid4().hex[:8]}"
    created = await api.put(f"/v1/customers/{customer}", json={"email": "a@example.com"})
    assert created.json()["customer"]["badges"] == []

    journeys.store.badges.award(customer, "explorer", source_ref=f"{customer}-s1", at=AT)
    read = await api.get(f"/v1/customers/{customer}")

    assert read.status_code == 200 and read.json()["customer"]["badges"] == ["explorer"]
