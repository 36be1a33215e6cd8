"""``/v1/referrals`` and ``/v1/customers/{id}/referral`` on SQLite and PostgreSQL: 201 then
200 on the repeat, and every refusal a 4xx naming the field, with nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from journeys.process.clock import utcnow
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.store.referral_tables import Referral, ReferralCode
from tests.api_server import api_client

CAP = 2


@pytest.fixture
def store(each_database_store: Store) -> Store:
    return each_database_store


@pytest.fixture
async def api(store: Store, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    program = tmp_path / "loyalty.yaml"
    program.write_text(f"referrals:\n  max_per_referrer: {CAP}\n")
    key, _ = store.access.create_key("referrals")
    async with api_client(store, Settings(loyalty_file=program)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def rows(store: Store) -> tuple[list[Any], list[Any]]:
    with store.database.session() as session:
        referrals = [r.model_dump() for r in session.exec(select(Referral)).all()]
        codes = [c.model_dump() for c in session.exec(select(ReferralCode)).all()]
    return referrals, codes


async def code_of(api: httpx.AsyncClient, store: Store, customer: str) -> str:
    store.customers.upsert(customer)
    answer = await api.get(f"/v1/customers/{customer}/referral")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["code"])


async def test_the_code_is_made_on_first_ask_and_stays(
    api: httpx.AsyncClient, store: Store
) -> None:
    code = await code_of(api, store, "ana")
    again = (await api.get("/v1/customers/ana/referral")).json()
    assert again == {
        "customer_id": "ana",
        "code": code,
        "referred": 0,
        "completed": 0,
        "max_per_referrer": CAP,
        "referred_by": None,
    }
    unknown = await api.get("/v1/customers/nobody/referral")
    assert unknown.status_code == 404 and "nobody" in unknown.json()["detail"]
    assert store.customers.get("nobody") is None and len(rows(store)[1]) == 1


async def test_a_referral_is_201_then_200_on_the_repeat(
    api: httpx.AsyncClient, store: Store
) -> None:
    code = await code_of(api, store, "ana")
    first = await api.post("/v1/referrals", json={"code": code, "customer_id": "bob"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["referrer_id"], body["customer_id"], body["status"]) == ("ana", "bob", "pending")
    typed = f"{code[:4].lower()}-{code[4:].lower()}"  # as a person may type it
    repeat = await api.post("/v1/referrals", json={"code": typed, "customer_id": "bob"})
    assert repeat.status_code == 200 and repeat.json() == body
    summary = (await api.get("/v1/customers/ana/referral")).json()
    assert summary["referred"] == 1
    assert (await api.get("/v1/customers/bob/referral")).json()["referred_by"] == "ana"


def _names(answer: httpx.Response, status: int, field: str) -> None:
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    if status == 422:
        assert detail[0]["loc"] == ["body", field], answer.text
    else:
        assert detail.startswith(f"{field}: "), answer.text


async def test_every_refusal_names_its_field_and_writes_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    ana = await code_of(api, store, "ana")
    cleo = await code_of(api, store, "cleo")
    for friend in ("f1", "f2"):
        answer = await api.post("/v1/referrals", json={"code": ana, "customer_id": friend})
        assert answer.status_code == 201
    store.loyalty.record_purchase("buyer", 10, source_ref="o-1", occurred_at=utcnow())
    await api.post("/v1/referrals", json={"code": cleo, "customer_id": "dan"})
    dan = await code_of(api, store, "dan")
    before = rows(store)

    cases = [
        ({"code": "ZZZZ9999", "customer_id": "new"}, 404, "code"),  # nobody's code
        ({"code": cleo, "customer_id": "cleo"}, 422, "customer_id"),  # their own
        ({"code": cleo, "customer_id": "f1"}, 409, "customer_id"),  # ana referred f1
        ({"code": cleo, "customer_id": "buyer"}, 409, "customer_id"),  # bought already
        ({"code": dan, "customer_id": "cleo"}, 409, "customer_id"),  # cleo referred dan
        ({"code": ana, "customer_id": "f3"}, 409, "code"),  # ana's cap of 2
        ({"code": "", "customer_id": "new"}, 422, "code"),
        ({"code": "K7Q2!M9XP", "customer_id": "new"}, 422, "code"),
        ({"code": ana, "customer_id": ""}, 422, "customer_id"),
        ({"code": ana, "customer_id": "a\u0000b"}, 422, "customer_id"),
        ({"code": ana}, 422, "customer_id"),
        ({"customer_id": "new"}, 422, "code"),
        ({"code": ana, "customer_id": "new", "friend": "x"}, 422, "friend"),
        ({"code": 12345678, "customer_id": "new"}, 422, "code"),
    ]
    for body, status, field in cases:
        answer = await api.post("/v1/referrals", json=body)
        _names(answer, status, field)
        assert rows(store) == before, body
    assert store.customers.get("new") is None and store.customers.get("f3") is None


async def test_the_routes_need_a_key(api: httpx.AsyncClient, store: Store) -> None:
    code = await code_of(api, store, "ana")
    bare = httpx.AsyncClient(base_url=str(api.base_url))
    async with bare:
        assert (await bare.get("/v1/customers/ana/referral")).status_code == 401
        answer = await bare.post("/v1/referrals", json={"code": code, "customer_id": "bob"})
        assert answer.status_code == 401
    assert rows(store)[0] == []
