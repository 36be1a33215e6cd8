"""Request bodies past the limit get a 413 with a JSON detail, read no further than the
limit and write nothing: on /v1 and on the webhooks, where the limit comes before the
signature check; with a Content-Length and without one (chunked, even endless)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from journeys.api.state import SendGridWebhookSettings
from journeys.process.settings import Settings
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store
from tests.api_server import api_client

LIMIT = 4096
JSON = {"content-type": "application/json"}
BATCH_LIMIT = 16384
SENDGRID_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
)


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """Small limits; both webhooks configured, so a refusal past the limit would be a 403."""
    settings = Settings(api_max_body_bytes=LIMIT, api_max_batch_body_bytes=BATCH_LIMIT)
    key, _ = store.access.create_key("limits")
    async with api_client(
        store,
        settings,
        twilio=TwilioSettings(auth_token="twilio-token"),
        sendgrid=SendGridWebhookSettings(public_key=base64.b64encode(SENDGRID_KEY).decode()),
    ) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def event(customer: str, padding: int) -> dict[str, object]:
    return {"id": f"big-{customer}", "customer_id": customer, "name": "cart.updated",
            "properties": {"note": "x" * padding}}  # fmt: skip


def assert_too_large(answer: httpx.Response, limit: int) -> None:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "detail": f"the request body is larger than this endpoint's limit of {limit} bytes"
    }


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """A body sent without Content-Length (chunked transfer encoding)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_an_event_over_the_limit_is_refused_and_not_stored(
    api: httpx.AsyncClient, store: Store
) -> None:
    body = json.dumps(event("limits-1", LIMIT)).encode()
    answer = await api.post("/v1/events", content=body, headers=JSON)
    assert_too_large(answer, LIMIT)
    assert not store.events.recorded("big-limits-1")


async def test_a_chunked_body_over_the_limit_is_refused_and_not_stored(
    api: httpx.AsyncClient, store: Store
) -> None:
    body = json.dumps(event("limits-2", 20 * LIMIT)).encode()
    answer = await api.post(
        "/v1/events", content=chunks(body), headers=JSON
    )
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(answer, LIMIT)
    assert not store.events.recorded("big-limits-2")


async def test_a_body_just_under_the_limit_is_accepted(api: httpx.AsyncClient) -> None:
    body = event("limits-3", 0)
    padding = LIMIT - len(json.dumps(body).encode())
    body = event("limits-3", padding)
    assert len(json.dumps(body).encode()) == LIMIT
    answer = await api.post("/v1/events", content=json.dumps(body).encode(), headers=JSON)
    assert answer.status_code == 202, answer.text


async def test_a_batch_has_the_batch_limit(api: httpx.AsyncClient) -> None:
    events = [event(f"limits-batch-{n}", 1000) | {"id": f"b{n}"} for n in range(8)]
    body = json.dumps({"events": events}).encode()
    assert LIMIT < len(body) < BATCH_LIMIT
    assert (await api.post("/v1/events/batch", content=body, headers=JSON)).status_code == 202
    assert_too_large(await api.post("/v1/events", content=body), LIMIT)
    big = json.dumps({"events": events * 3}).encode()
    assert_too_large(await api.post("/v1/events/batch", content=big), BATCH_LIMIT)


async def test_a_customer_profile_over_the_limit_is_refused_and_not_stored(
    api: httpx.AsyncClient, store: Store
) -> None:
    answer = await api.put("/v1/customers/limits-4", json={"note": "x" * LIMIT})
    assert_too_large(answer, LIMIT)
    assert store.customers.get("limits-4") is None


@pytest.mark.parametrize("path", ["/webhooks/sendgrid/events", "/webhooks/twilio/status"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_a_webhook_over_the_limit_gets_413_before_its_signature_is_checked(
    api: httpx.AsyncClient, path: str, chunked: bool
) -> None:
    """Unsigned: were the body read whole and verified first, the answer would be 403."""
    limit = BATCH_LIMIT if "sendgrid" in path else LIMIT
    body = b"[" + b" " * (limit + 10) + b"]"
    answer = await api.post(path, content=chunks(body) if chunked else body)
    assert_too_large(answer, limit)
    small = await api.post(path, content=b"[]")
    assert small.status_code == 403  # the same request under the limit meets the signature


async def raw_request(url: str, head: bytes, body: bytes) -> bytes:
    """Sends ``head`` and part of a body, never finishing it; returns the status line that
    comes back meanwhile."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    api: httpx.AsyncClient,
) -> None:
    head = (
        b"POST /webhooks/sendgrid/events HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    )
    status = await raw_request(str(api.base_url), head, b"")
    assert status.startswith(b"HTTP/1.1 413 "), status


async def test_an_endless_chunked_body_is_cut_off_at_the_limit(api: httpx.AsyncClient) -> None:
    """The body never ends: the 413 comes while it is still being sent, so the server did
    not wait to buffer it whole."""
    head = (
        b"POST /webhooks/twilio/status HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 1024
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 1024 + 2))
    status = await raw_request(str(api.base_url), head, body)
    assert status.startswith(b"HTTP/1.1 413 "), status


async def test_the_openapi_document_shows_the_413(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/v1/events", "post"),
        ("/v1/events/batch", "post"),
        ("/v1/customers/{customer_id}", "put"),
        ("/webhooks/sendgrid/events", "post"),
        ("/webhooks/twilio/status", "post"),
        ("/u/{token}", "post"),
    ]:
        assert "413" in paths[path][method]["responses"], (path, method)
