"""Bad input never gets a 500: out-of-range moments, unpaired surrogates, NaN and Infinity,
NUL characters, in bodies, paths and queries, on SQLite and PostgreSQL. Each gets a 4xx
whose detail names the field, and nothing is written."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from journeys.api.signatures import twilio_signature
from journeys.api.state import SendGridWebhookSettings
from journeys.api.temporal_link import TemporalLink
from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.events import Event, encoded_size, event_too_large
from journeys.process.settings import Settings
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store
from tests.api_server import api_client


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


JSON = {"content-type": "application/json"}
LATE = "9999-12-31T23:00:00-14:00"  # 10000-01-01 in UTC: past datetime.max
EARLY = "0001-01-01T00:00:00+14:00"  # 0000-12-31 in UTC: before datetime.min


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    key, _ = store.access.create_key("bad-input")
    settings = Settings(max_event_bytes=4096)
    insecure = SendGridWebhookSettings(insecure=True)
    async with api_client(store, settings, sendgrid=insecure) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def nothing_written(store: Store) -> None:
    assert store.events.pending_count() == 0
    assert store.customers.get("c1") is None


def named(answer: httpx.Response, *loc: Any) -> None:
    """A 422 whose (first) error is at ``loc``."""
    assert answer.status_code == 422, answer.text
    assert tuple(answer.json()["detail"][0]["loc"]) == loc, answer.text


EVENT = '{"customer_id": "c1", "name": "cart.updated"%s}'
BAD_EVENTS = {
    "late occurred_at": (f', "occurred_at": "{LATE}"', ("body", "occurred_at")),
    "early occurred_at": (f', "occurred_at": "{EARLY}"', ("body", "occurred_at")),
    "occurred_at as seconds": (', "occurred_at": 0', ("body", "occurred_at")),
    "naive occurred_at": (', "occurred_at": "2026-11-23T10:00:00"', ("body", "occurred_at")),
    "surrogate in id": (r', "id": "\ud800"', ("body", "id")),
    "NUL in id": (r', "id": "a\u0000b"', ("body", "id")),
    "NaN property": (', "properties": {"total": NaN}', ("body", "properties")),
    "Infinity property": (', "properties": {"total": -Infinity}', ("body", "properties")),
    "surrogate in a property": (r', "properties": {"a": ["\udfff"]}', ("body", "properties")),
    "surrogate in a key": (r', "properties": {"\ud800": 1}', ("body", "properties")),
    "NUL in a property": (r', "properties": {"a": {"b": "\u0000"}}', ("body", "properties")),
    "too deep": (', "properties": ' + '{"a": ' * 40 + "1" + "}" * 40, ("body", "properties")),
    "too large": (', "properties": {"a": "' + "x" * 5000 + '"}', ("body", "properties")),
}


@pytest.mark.parametrize("extra,loc", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
async def test_a_bad_event_gets_422_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient, store: Store, extra: str, loc: tuple[str, ...]
) -> None:
    named(await api.post("/v1/events", content=EVENT % extra, headers=JSON), *loc)
    batch = '{"events": [' + EVENT % ', "id": "fine"' + ", " + EVENT % extra + "]}"
    named(
        await api.post("/v1/events/batch", content=batch, headers=JSON),
        "body",
        "events",
        1,
        *loc[1:],
    )
    nothing_written(store)


async def test_an_event_over_the_size_limit_is_refused_with_the_sentence_send_event_uses(
    api: httpx.AsyncClient, store: Store
) -> None:
    event = Event(id="big", name="cart.updated", customer_id="c1", properties={"a": "x" * 5000})
    answer = await api.post("/v1/events", content=event.model_dump_json(), headers=JSON)
    named(answer, "body", "properties")
    assert answer.json()["detail"][0]["msg"] == (
        f"the event is {encoded_size(event)} bytes as JSON, over the limit of 4096 bytes "
        "(JOURNEYS_MAX_EVENT_BYTES)"
    )
    assert answer.json()["detail"][0]["msg"] == event_too_large(event, 4096)  # send-event's
    nothing_written(store)


@pytest.mark.parametrize("body", ["[" * 100_000, b"\xff\xfe{}", b'{"customer_id": "c1",'])
async def test_an_unreadable_body_gets_4xx(
    api: httpx.AsyncClient, store: Store, body: str | bytes
) -> None:
    for path in ("/v1/events", "/v1/events/batch"):
        answer = await api.post(path, content=body, headers=JSON)
        assert answer.status_code in (400, 422), answer.text
        assert "detail" in answer.json()
    nothing_written(store)


@pytest.mark.parametrize(
    "body,loc",
    [
        (r'{"customer_id": "\ud800", "name": "a"}', ("body", "customer_id")),
        (r'{"customer_id": "c\u0000", "name": "a"}', ("body", "customer_id")),
        (r'{"customer_id": "c1", "name": "\ud800"}', ("body", "name")),
    ],
)
async def test_bad_ids_and_names_get_422(
    api: httpx.AsyncClient, store: Store, body: str, loc: tuple[str, ...]
) -> None:
    named(await api.post("/v1/events", content=body, headers=JSON), *loc)
    nothing_written(store)


@pytest.mark.parametrize(
    "body,field",
    [
        (r'{"email": "a\u0000@example.com"}', "email"),
        (r'{"first_name": "\ud800"}', "first_name"),
        (r'{"attributes": {"score": NaN}}', "attributes"),
        ('{"score": Infinity}', "score"),
        (r'{"\ud800": 1}', "profile"),
        (r'{"consent": {"email": true}, "tags": ["a\u0000"]}', "tags"),
    ],
)
async def test_a_bad_profile_gets_422_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient, store: Store, body: str, field: str
) -> None:
    named(await api.put("/v1/customers/c1", content=body, headers=JSON), "body", field)
    nothing_written(store)


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("customer_id", ["a\x00b", "a\x1fb", "x" * 201])
async def test_a_bad_customer_id_in_the_path_gets_422(
    api: httpx.AsyncClient, store: Store, method: str, customer_id: str
) -> None:
    path = f"/v1/customers/{quote(customer_id, safe='')}"
    answer = await api.request(method, path, json={} if method == "PUT" else None)
    named(answer, "path", "customer_id")
    named(await api.get(f"{path}/journeys"), "path", "customer_id")
    nothing_written(store)


@pytest.mark.parametrize("name", ["until", "since"])
@pytest.mark.parametrize("value", [LATE, EARLY, "0.5", "2026-11-23T10:00:00", "\x00"])
async def test_a_funnel_moment_out_of_range_gets_422(
    api: httpx.AsyncClient, name: str, value: str
) -> None:
    answer = await api.get("/v1/scenarios/abandoned-cart/funnel", params={name: value})
    named(answer, "query", name)


async def test_a_funnel_over_a_range_still_answers(api: httpx.AsyncClient) -> None:
    answer = await api.get(
        "/v1/scenarios/abandoned-cart/funnel",
        params={"since": "1970-01-01T00:00:00+14:00", "until": "2999-12-31T23:59:59-14:00"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["entered"] == 0


@pytest.mark.parametrize(
    "body",
    [
        r'[{"event": "bounce", "email": "a\u0000@example.com", "delivery_key": "k\u0000"}]',
        r'[{"event": "spamreport", "email": "\ud800", "customer_id": "\ud800"}]',
        '[{"event": "delivered", "timestamp": NaN, "delivery_key": "k"}]',
        '[{"event": "delivered", "timestamp": 1e308, "delivery_key": "k"}]',
        "[" * 100_000,
        b"\xff\xfe",
    ],
)
async def test_a_bad_sendgrid_batch_never_gets_a_500(
    api: httpx.AsyncClient, store: Store, body: str | bytes
) -> None:
    answer = await api.post("/webhooks/sendgrid/events", content=body, headers=JSON)
    assert answer.status_code in (200, 400), answer.text


@pytest.mark.parametrize("token", ["a%00b", "%ED%A0%80", "a" * 5000, "..%2F..%2Fetc"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_bad_unsubscribe_token_gets_400(
    api: httpx.AsyncClient, store: Store, token: str, method: str
) -> None:
    answer = await api.request(method, f"/u/{token}")
    assert answer.status_code in (400, 404), answer.text
    nothing_written(store)


async def test_a_signed_twilio_callback_with_unstorable_text_never_gets_a_500(
    store: Store,
) -> None:
    """Only Twilio can sign, but the query is ours to get wrong: NUL in delivery_key."""
    token = "bad-input-twilio-token"
    async with api_client(store, twilio=TwilioSettings(auth_token=token)) as client:
        url = f"{client.base_url}/webhooks/twilio/status?delivery_key=k%00"
        params = [("MessageStatus", "undelivered"), ("ErrorCode", "30005"), ("To", "+1\x00")]
        signature = twilio_signature(token, url, params)
        answer = await client.post(
            url, data=dict(params), headers={"X-Twilio-Signature": signature}
        )
    assert answer.status_code < 500, answer.text


async def test_journeys_while_temporal_does_not_answer_get_503(
    store: Store, registry: ScenarioRegistry
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    settings = Settings(temporal_address=nowhere)
    link = TemporalLink(settings, registry, LoyaltyProgram())
    key, _ = store.access.create_key("no-temporal")
    async with api_client(store, settings, registry=registry, temporal=link) as client:
        answer = await client.get(
            "/v1/customers/c1/journeys", headers={"Authorization": f"Bearer {key}"}
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"].startswith("Temporal did not answer")
