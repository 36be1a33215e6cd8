"""Apps cannot set an event's counters: only the router fills them."""

from __future__ import annotations

import httpx

from journeys.app.driver import JourneyDriver


async def test_an_event_body_with_counters_is_refused_naming_the_field(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = journeys.customer("api")
    body = {"customer_id": customer, "name": "store.visit", "counters": {"visits": 10}}

    answer = await api.post("/v1/events", json=body)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "counters"]
    assert journeys.store.events.for_customer(customer) == []
