"""SendGrid's signed event webhook has a replay window: a genuinely signed batch whose signed
timestamp is too old (or too far ahead) gets 403 and changes nothing.

Real ECDSA P-256 signatures over the timestamp and body, as SendGrid signs; the app on a
loopback socket; a SQLite store. Timestamps are offsets from the moment of the test, so
the outcome never depends on when it runs.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from journeys.api.signatures import timestamp_is_fresh
from journeys.api.state import SendGridWebhookSettings
from journeys.store import Store
from journeys.store.tables import Delivery
from tests.api_server import api_client
from tests.provider_webhooks import (
    SENDGRID_EVENTS,
    SIGNATURE,
    TIMESTAMP,
    customer,
    provider_status,
    public_key_text,
)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """A SQLite file of the test's own, not the session's store the worker writes to."""
    return sqlite_store


BOUNCE = [{"email": "ana@example.com", "event": "bounce", "type": "bounce", "delivery_key": "k1"}]


def signed_at(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str) -> dict[str, str]:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        SIGNATURE: base64.b64encode(signature).decode(),
        TIMESTAMP: timestamp,
    }


@pytest.mark.parametrize(
    ("offset", "settings", "accepted"),
    [
        pytest.param(-11 * 60, {}, False, id="11-minutes-old"),
        pytest.param(+11 * 60, {}, False, id="11-minutes-ahead"),
        pytest.param(-9 * 60, {}, True, id="9-minutes-old"),
        pytest.param(+60, {}, True, id="a-clock-a-minute-ahead"),
        pytest.param(-120, {"max_age": 60}, False, id="2-minutes-old-with-a-1-minute-window"),
        pytest.param(-86400 * 2, {"max_age": 86400 * 3}, True, id="a-wider-window-if-wanted"),
    ],
)
async def test_a_signed_batch_outside_the_replay_window_is_refused(
    store: Store,
    signing_key: ec.EllipticCurvePrivateKey,
    offset: int,
    settings: dict[str, int],
    accepted: bool,
) -> None:
    customer(store, "ana")
    store.ledger.record(
        Delivery(delivery_key="k1", channel="email", status="sent", customer_id="ana")
    )
    body = json.dumps(BOUNCE).encode()
    headers = signed_at(signing_key, body, str(int(time.time()) + offset))
    webhook = SendGridWebhookSettings(public_key=public_key_text(signing_key), **settings)
    async with api_client(store, sendgrid=webhook) as api:
        response = await api.post(SENDGRID_EVENTS, content=body, headers=headers)

    if accepted:
        assert response.status_code == 200, response.text
        assert provider_status(store, "ana") == [("email", "sent", "bounce")]
        assert [s.address for s in store.consent.suppressions()] == ["ana@example.com"]
    else:
        assert response.status_code == 403
        assert "timestamp outside the" in response.text
        assert provider_status(store, "ana") == [("email", "sent", None)]
        assert store.consent.suppressions() == []


async def test_a_signed_timestamp_that_is_not_unix_seconds_is_refused(
    store: Store,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    customer(store, "ana")
    body = json.dumps(BOUNCE).encode()
    webhook = SendGridWebhookSettings(public_key=public_key_text(signing_key))
    async with api_client(store, sendgrid=webhook) as api:
        for timestamp in ("2026-03-10T12:00:00Z", f"{time.time():.3f}", "-5", "9" * 40):
            response = await api.post(
                SENDGRID_EVENTS, content=body, headers=signed_at(signing_key, body, timestamp)
            )
            assert response.status_code == 403, timestamp
    assert store.consent.suppressions() == []


def test_the_window_is_symmetric_and_inclusive() -> None:
    now = 1_800_000_000.0
    assert timestamp_is_fresh("1800000600", 600, now)
    assert timestamp_is_fresh("1799999400", 600, now)
    assert not timestamp_is_fresh("1800000601", 600, now)
    assert not timestamp_is_fresh("1799999399", 600, now)
    assert not timestamp_is_fresh(None, 600, now)
    assert not timestamp_is_fresh("", 600, now)
