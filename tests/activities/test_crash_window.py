"""The crash window of providers without an idempotency key, closed by their own reports.

An attempt whose request reached the provider but whose answer never came back (the worker
died, or the read timed out) leaves the ledger row ``reserved``. If the provider's signed
status webhook names the delivery key before the retry, the retry marks the row sent with
the provider's id and sends nothing; without a report the retry has to send again.

Real pieces: the Twilio and SendGrid adapters over the shared client, a provider-shaped
HTTP sink that accepts a message when the request arrives and answers after the client
gave up, the API on a loopback socket receiving the signed webhooks, a SQLite store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.channels.http import TIMED_OUT, HttpSettings, build_http_client
from activities.channels.sendgrid import SendGridAdapter, SendGridSettings
from activities.channels.twilio import TwilioAdapter
from activities.deliver import DeliveryActivities
from journeys.api.state import SendGridWebhookSettings
from journeys.model.contracts import DeliverResult
from journeys.rendering.templating import Templates
from journeys.store import Store
from tests.api_server import api_client
from tests.deliveries import request
from tests.http_sink import HttpSink, Reply
from tests.provider_webhooks import (
    SENDGRID_EVENTS,
    SENDGRID_SEND,
    TWILIO_MESSAGES,
    TWILIO_STATUS,
    customer,
    post_twilio,
    public_key_text,
    sendgrid_signed,
    twilio_form,
    twilio_settings,
)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """A SQLite file of the test's own, not the session's store the worker writes to."""
    return sqlite_store


# The provider takes the request, then answers after the client stopped waiting.
LATE = 1.5


@pytest.fixture
async def impatient() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(HttpSettings(read_timeout=0.3)) as client:
        yield client


async def attempt(delivery: DeliveryActivities, customer_id: str, channel: str) -> DeliverResult:
    return await ActivityEnvironment().run(delivery.deliver, request(customer_id, channel))


async def cut_short(delivery: DeliveryActivities, customer_id: str, channel: str) -> None:
    """The first attempt: the provider has the message, the worker never hears back."""
    with pytest.raises(ApplicationError) as failure:
        await attempt(delivery, customer_id, channel)
    assert failure.value.type == TIMED_OUT and not failure.value.non_retryable


async def test_a_twilio_status_callback_for_a_reserved_row_stops_the_repeat(
    store: Store, templates: Templates, impatient: httpx.AsyncClient
) -> None:
    with HttpSink() as sink:
        sink.reply(
            TWILIO_MESSAGES,
            Reply(201, {"sid": "SM0001", "status": "queued"}, delay=LATE),
            Reply(201, {"sid": "SM0002", "status": "queued"}, delay=LATE),
            Reply(201, {"sid": "SM0003", "status": "queued"}),
        )
        async with api_client(store, twilio=twilio_settings()) as api:
            callback = f"{api.base_url}{TWILIO_STATUS}"
            settings = twilio_settings(base_url=sink.url, status_callback=callback)
            delivery = DeliveryActivities(
                store, templates, {"sms": TwilioAdapter(impatient, settings)}
            )
            customer(store, "ana", phone="+33612345678")
            customer(store, "ben", phone="+33612345679")
            await cut_short(delivery, "ana", "sms")
            await cut_short(delivery, "ben", "sms")
            assert [r.status for r in store.ledger.for_customer("ana")] == ["reserved"]

            # Twilio reports Ana's message (the callback URL names her delivery key)...
            ana_url = sink.received(TWILIO_MESSAGES)[0].form()["StatusCallback"]
            response = await post_twilio(api, ana_url, twilio_form("sent", MessageSid="SM0001"))
            assert response.status_code == 204
            assert [r.status for r in store.ledger.for_customer("ana")] == ["reserved"]  # not yet

            ana = await attempt(delivery, "ana", "sms")
            # ...and nothing about Ben's before his retry: that one is sent again.
            ben = await attempt(delivery, "ben", "sms")

    assert (ana.status, ana.channel, ana.message_id) == ("sent", "sms", "SM0001")
    [row] = store.ledger.for_customer("ana")
    assert (row.status, row.provider_message_id, row.provider_status) == ("sent", "SM0001", "sent")
    recipients = [call.form()["To"] for call in sink.received(TWILIO_MESSAGES)]
    assert recipients == ["+33612345678", "+33612345679", "+33612345679"]
    assert (ben.status, ben.message_id) == ("sent", "SM0003")
    # A later attempt (an overlapping retry) finds the row sent: still one message for Ana.
    again = await attempt(delivery, "ana", "sms")
    assert (again.status, again.message_id) == ("sent", "SM0001")


async def test_a_sendgrid_event_for_a_reserved_row_stops_the_repeat(
    store: Store,
    templates: Templates,
    impatient: httpx.AsyncClient,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    with HttpSink() as sink:
        sink.reply(SENDGRID_SEND, Reply(202, headers={"X-Message-Id": "sg-1"}, delay=LATE))
        settings = SendGridSettings(
            api_key="SG.k", from_email="club@shop.example", base_url=sink.url
        )
        delivery = DeliveryActivities(
            store, templates, {"email": SendGridAdapter(impatient, settings)}
        )
        customer(store, "ana")
        await cut_short(delivery, "ana", "email")
        args: dict[str, Any] = sink.received(SENDGRID_SEND)[0].json()["custom_args"]
        events = [
            {
                "email": "ana@example.com",
                "event": "processed",
                "timestamp": 1700000000,
                "sg_message_id": "sg-1.filter0001.16648.5515E0B88.0",
                **args,
            }
        ]
        body = json.dumps(events).encode()
        webhook = SendGridWebhookSettings(public_key=public_key_text(signing_key))
        async with api_client(store, sendgrid=webhook) as api:
            response = await api.post(
                SENDGRID_EVENTS, content=body, headers=sendgrid_signed(signing_key, body)
            )
            assert response.status_code == 200

        result = await attempt(delivery, "ana", "email")

        assert len(sink.received(SENDGRID_SEND)) == 1
    assert (result.status, result.message_id) == ("sent", "sg-1.filter0001.16648.5515E0B88.0")
    [row] = store.ledger.for_customer("ana")
    assert (row.status, row.provider_status) == ("sent", "processed")
