"""The ingestion API end to end: keys, events stored then routed (once per id), batches
all or nothing, profiles, journeys; a real server, a real worker, a real socket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from journeys.app.driver import JourneyDriver, eventually
from journeys.store import Store
from tests.props import CART_PROPS

CART = "abandoned-cart"


async def test_an_event_is_stored_then_starts_its_journey(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = journeys.customer("api")
    body = {
        "customer_id": customer,
        "name": "cart.updated",
        "properties": {"cart_total": 50, **CART_PROPS},
    }

    answer = await api.post("/v1/events", json=body)

    assert answer.status_code == 202, answer.text
    event_id = answer.json()["id"]
    assert journeys.store.events.recorded(event_id)  # stored before the answer
    state = await journeys.idle(CART, customer)
    assert state.status == "running" and state.entries == 1


async def test_the_same_event_id_twice_is_applied_once(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = journeys.customer("api")
    purchase = {
        "id": f"order-{customer}",
        "customer_id": customer,
        "name": "purchase",
        "properties": {"amount": 80},
    }

    first = await api.post("/v1/events", json=purchase)
    again = await api.post("/v1/events", json=purchase)

    assert (first.status_code, again.status_code) == (202, 202)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)

    async def earned() -> None:
        assert journeys.store.points.summary(customer, datetime.now(UTC))["earned"] == 80

    await eventually(earned)
    assert len(journeys.store.loyalty.purchases_for(customer)) == 1
    assert journeys.store.events.pending(customer) == []


async def test_a_batch_is_stored_whole_or_not_at_all(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customers = [journeys.customer("batch") for _ in range(3)]
    events = [
        {"customer_id": c, "name": "cart.updated", "properties": {"cart_total": 20, **CART_PROPS}}
        for c in customers
    ]
    bad = [*events[:1], {"customer_id": customers[1], "name": "cart updated"}, *events[2:]]

    refused = await api.post("/v1/events/batch", json={"events": bad})

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "events", 1, "name"]
    assert all(journeys.store.events.for_customer(c) == [] for c in customers)

    accepted = await api.post("/v1/events/batch", json={"events": events})
    assert accepted.status_code == 202
    for customer in customers:
        assert (await journeys.idle(CART, customer)).entries == 1
    too_many = await api.post("/v1/events/batch", json={"events": events * 200})
    assert too_many.status_code == 422  # over the documented limit of 500


async def test_identify_then_read_the_customer_with_points_and_journeys(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = f"api-{uuid.uuid4().hex[:8]}"
    bad = await api.put(f"/v1/customers/{customer}", json={"time_zone": "Europe/Pari"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "time_zone"]
    assert journeys.store.customers.get(customer) is None  # nothing written

    profile = {
        "email": "ana@example.com",
        "time_zone": "Europe/Paris",
        "locale": "fr",
        "consent": {"email": True},
        "first_name": "Ana",
    }
    created = await api.put(f"/v1/customers/{customer}", json=profile)
    assert created.status_code == 200, created.text
    assert created.json()["customer"]["first_name"] == "Ana"
    [change] = journeys.store.consent.changes(customer)
    assert change.source.startswith("api:test-") and change.granted

    await api.post(
        "/v1/events",
        json={
            "customer_id": customer,
            "name": "cart.updated",
            "properties": {"cart_total": 10, **CART_PROPS},
        },
    )
    await journeys.idle(CART, customer)
    read = await api.get(f"/v1/customers/{customer}")
    assert read.json()["points"]["balance"] == 0 and read.json()["tier"] is None

    async def listed() -> None:
        found = (await api.get(f"/v1/customers/{customer}/journeys")).json()
        assert [(j["scenario_id"], j["state"]["status"]) for j in found] == [(CART, "running")]

    await eventually(listed)
    assert (await api.get("/v1/customers/nobody-at-all")).status_code == 404


async def test_scenarios_are_listed(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/v1/scenarios")).json()
    by_id = {s["id"]: s for s in listed}
    assert by_id["birthday"]["trigger"] == "schedule: every 1:00:00"
    assert by_id["abandoned-cart"]["trigger"] == "cart.updated"
    assert "reminder" in by_id["abandoned-cart"]["steps"]


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer jrn_x_y"])
async def test_requests_without_a_valid_key_get_401_and_change_nothing(
    api: httpx.AsyncClient, store: Store, header: str | None
) -> None:
    customer = f"nokey-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": header} if header else {}
    api.headers.pop("Authorization")
    calls = [
        api.post("/v1/events", json={"customer_id": customer, "name": "purchase"}, headers=headers),
        api.put(f"/v1/customers/{customer}", json={"email": "a@b.co"}, headers=headers),
        api.get(f"/v1/customers/{customer}", headers=headers),
        api.get("/v1/scenarios", headers=headers),
    ]
    for call in calls:
        answer = await call
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    assert store.customers.get(customer) is None and store.events.for_customer(customer) == []


async def test_a_revoked_key_is_refused(api: httpx.AsyncClient, store: Store) -> None:
    name = "to-revoke"
    key, _ = store.access.create_key(name)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await api.get("/v1/scenarios", headers=headers)).status_code == 200
    assert store.access.revoke_key(name) >= 1
    assert (await api.get("/v1/scenarios", headers=headers)).status_code == 401
