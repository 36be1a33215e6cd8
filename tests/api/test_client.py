"""The Python client: against the real API (track, identify), and against a scripted HTTP
server for what the network does (a 503 then success is retried with the same event id;
a 422 is raised at once, not retried)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from journeys.app.driver import JourneyDriver, eventually
from journeys.client import JourneysClient, JourneysError
from tests.http_sink import HttpSink, Reply


async def test_track_and_identify_against_the_api(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    key = api.headers["Authorization"].removeprefix("Bearer ")
    customer = f"client-{datetime.now(UTC).timestamp():.0f}"

    def use_client() -> str:
        with JourneysClient(str(api.base_url), key) as client:
            profile = client.identify(customer, email="ana@example.com", first_name="Ana")
            assert profile["customer"]["first_name"] == "Ana"
            return client.track(customer, "purchase", {"amount": 25})

    event_id = await asyncio.to_thread(use_client)

    assert journeys.store.events.recorded(event_id)

    async def earned() -> None:
        assert journeys.store.points.summary(customer, datetime.now(UTC))["earned"] == 25

    await eventually(earned)


def test_a_transient_failure_is_retried_with_the_same_event_id() -> None:
    with HttpSink() as sink:
        sink.reply("/v1/events", Reply(503), Reply(202, {"id": "x", "duplicate": False}))
        with JourneysClient(sink.url, "jrn_a_b") as client:
            event_id = client.track("c1", "purchase", {"amount": 1})
        first, second = sink.received("/v1/events")
    assert first.json()["id"] == second.json()["id"] == event_id
    assert first.headers["authorization"] == "Bearer jrn_a_b"


def test_a_refusal_is_raised_at_once() -> None:
    detail = [{"loc": ["body", "name"], "msg": "bad name"}]
    with HttpSink() as sink:
        sink.reply("/v1/events", Reply(422, {"detail": detail}))
        with JourneysClient(sink.url, "jrn_a_b") as client, pytest.raises(JourneysError) as err:
            client.track("c1", "bad name")
        assert len(sink.received("/v1/events")) == 1
    assert err.value.status == 422 and err.value.detail == detail
