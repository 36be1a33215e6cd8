"""The coupon routes on a real socket, SQLite and PostgreSQL: redeem and return once per
order, each refusal a 4xx naming the field or the reason, and nothing changed by one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from journeys.process.settings import Settings
from journeys.store import Store
from journeys.store.coupons import Issue, Worth
from tests.api_server import api_client


@pytest.fixture
def store(each_database_store: Store) -> Store:
    return each_database_store


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    key, _ = store.access.create_key("coupons")
    async with api_client(store, Settings()) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def issue(store: Store, customer: str = "c1", *, at: datetime | None = None) -> str:
    store.customers.identify(
        customer, profile={"time_zone": "Europe/Paris"}, attributes={}, source="test"
    )
    coupon, _ = store.coupons.issue(
        Issue(
            source_ref=f"ref-{customer}-{at}",
            customer_id=customer,
            offer="spring-5",
            worth=Worth(kind="value", value_cents=500, currency="EUR"),
            valid_for=timedelta(days=30),
            at=at or datetime.now(UTC),
        )
    )
    assert coupon is not None
    return coupon.code


def snapshot(store: Store, code: str) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the coupon row and the event log."""
    row = store.coupons.get(code)
    assert row is not None
    events = [(e.id, e.name) for e in store.events.for_customer(row.customer_id)]
    return row.status, row.order_id, row.redeemed_at, events


async def test_redeem_then_read_then_return(api: httpx.AsyncClient, store: Store) -> None:
    code = issue(store)
    body = {"customer_id": "c1", "order_id": "o-1", "amount": 42.5}

    redeemed = await api.post(f"/v1/coupons/{code}/redeem", json=body)
    again = await api.post(f"/v1/coupons/{code}/redeem", json=body)

    assert redeemed.status_code == again.status_code == 200, redeemed.text
    assert redeemed.json() == again.json()
    coupon = redeemed.json()
    assert (coupon["code"], coupon["status"], coupon["order_id"]) == (code, "redeemed", "o-1")
    assert (coupon["value"], coupon["currency"], coupon["order_amount"]) == ("5.00", "EUR", "42.50")
    [event] = store.events.pending("c1")
    assert event.name == "coupon.redeemed"
    assert event.properties["order_id"] == "o-1" and event.properties["amount"] == 42.5

    read = await api.get(f"/v1/coupons/{code}")
    assert read.status_code == 200 and read.json() == coupon
    listed = await api.get("/v1/customers/c1/coupons")
    assert listed.status_code == 200 and listed.json() == [coupon]

    returned = await api.post(f"/v1/coupons/{code}/return", json={"order_id": "o-1"})
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["order_id"]) == ("issued", None)
    names = sorted(e.name for e in store.events.pending("c1"))
    assert names == ["coupon.redeemed", "coupon.returned"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_id": "o-1"}, "customer_id"),
        ({"customer_id": "c1"}, "order_id"),
        ({"customer_id": "c1", "order_id": ""}, "order_id"),
        ({"customer_id": "c1", "order_id": "o\u0000"}, "order_id"),
        ({"customer_id": "c1", "order_id": "o-1", "amount": -1}, "amount"),
        ({"customer_id": "c1", "order_id": "o-1", "amount": "lots"}, "amount"),
        ({"customer_id": "c1", "order_id": "o-1", "coupon": "x"}, "coupon"),
    ],
)
async def test_a_bad_redeem_body_names_the_field_and_changes_nothing(
    api: httpx.AsyncClient, store: Store, body: dict[str, Any], field: str
) -> None:
    code = issue(store)
    before = snapshot(store, code)
    answer = await api.post(f"/v1/coupons/{code}/redeem", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", field]
    assert snapshot(store, code) == before


async def test_refusals_give_the_reason_and_change_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    code = issue(store)
    old = issue(store, "c2", at=datetime.now(UTC) - timedelta(days=60))
    before = snapshot(store, code)

    def redeem(which: str, customer: str, order: str) -> Any:
        body = {"customer_id": customer, "order_id": order}
        return api.post(f"/v1/coupons/{which}/redeem", json=body)

    unknown = await redeem("NOPE2345", "c1", "o-1")
    assert unknown.status_code == 404 and "no coupon has the code 'NOPE2345'" in unknown.text
    stranger = await redeem(code, "c2", "o-1")
    assert stranger.status_code == 409 and "belongs to another customer" in stranger.text
    expired = await redeem(old, "c2", "o-1")
    assert expired.status_code == 409 and "expired" in expired.text
    not_this_order = await api.post(f"/v1/coupons/{code}/return", json={"order_id": "o-1"})
    assert not_this_order.status_code == 409 and "did not redeem" in not_this_order.text
    assert snapshot(store, code) == before

    assert (await redeem(code, "c1", "o-1")).status_code == 200
    after = snapshot(store, code)
    other_order = await redeem(code, "c1", "o-2")
    assert other_order.status_code == 409 and "already redeemed by another order" in (
        other_order.text
    )
    assert snapshot(store, code) == after


async def test_paths_and_keys_are_checked(api: httpx.AsyncClient, store: Store) -> None:
    code = issue(store)
    bad_code = await api.get("/v1/coupons/not%20a%20code")
    assert bad_code.status_code == 422 and bad_code.json()["detail"][0]["loc"] == ["path", "code"]
    assert (await api.get("/v1/customers/nobody/coupons")).status_code == 404
    anonymous = await api.post(
        f"/v1/coupons/{code}/redeem",
        json={"customer_id": "c1", "order_id": "o-1"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert anonymous.status_code == 401
    assert store.coupons.get(code).status == "issued"
