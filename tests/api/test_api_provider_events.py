"""Provider status webhooks over real HTTP, fed by real adapter sends.

Each message goes out through the production adapter to a local provider-shaped HTTP sink
(``tests.http_sink``) via the deliver activity; the status callback URL or custom args the
adapter sent are what the webhook then posts back, signed as the provider signs, to the app
served by uvicorn on loopback. The store is a real SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.testing import ActivityEnvironment

from activities.channels import OutboxAdapter
from activities.channels.http import HttpSettings, build_http_client
from activities.channels.sendgrid import SendGridAdapter, SendGridSettings
from activities.channels.twilio import TwilioAdapter
from activities.deliver import DeliveryActivities
from journeys.api import create_app
from journeys.api.signatures import twilio_signature, verify_twilio
from journeys.api.state import SendGridWebhookSettings
from journeys.model.contracts import DeliverResult
from journeys.process.settings import Settings, SettingsError
from journeys.rendering.templating import Templates
from journeys.store import Store
from journeys.store.tables import Delivery
from tests.api_server import api_client
from tests.deliveries import request
from tests.http_sink import HttpSink, Reply
from tests.provider_webhooks import (
    AUTH_TOKEN,
    SENDGRID_EVENTS,
    SENDGRID_SEND,
    SIGNATURE,
    TIMESTAMP,
    TWILIO_MESSAGES,
    TWILIO_STATUS,
    customer,
    post_twilio,
    provider_status,
    public_key_text,
    sendgrid_signed,
    twilio_form,
    twilio_settings,
)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """A SQLite file of the test's own, not the session's store the worker writes to."""
    return sqlite_store


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        sink.reply(TWILIO_MESSAGES, Reply(201, {"sid": "SM0001", "status": "queued"}))
        sink.reply(SENDGRID_SEND, Reply(202, headers={"X-Message-Id": "sg-0001"}))
        yield sink


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(HttpSettings(read_timeout=5)) as client:
        yield client


async def deliver(
    store: Store, templates: Templates, adapters: dict[str, Any], customer_id: str, *channels: str
) -> DeliverResult:
    delivery = DeliveryActivities(store, templates, adapters)
    return await ActivityEnvironment().run(delivery.deliver, request(customer_id, *channels))


def test_twilio_signatures_match_twilios_published_examples() -> None:
    """The vectors of Twilio's own helper library (token 12345)."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
        "Caller": "+14158675309",
    }
    assert twilio_signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    pairs = list(params.items())
    # A proxy may add or drop the port; Twilio signed the URL as it called it.
    assert verify_twilio("12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [url], pairs)
    https_port = url.replace(".com", ".com:1234")
    assert verify_twilio("12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [https_port], pairs)
    assert verify_twilio("12345", "kvajT1Ptam85bY51eRf/AJRuM3w=", [url], pairs)  # :443
    assert not verify_twilio("12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [url], pairs[:-1])
    assert not verify_twilio("wrong", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [url], pairs)


async def test_twilio_status_with_a_valid_signature_updates_the_ledger(
    store: Store, templates: Templates, sink: HttpSink, http: httpx.AsyncClient
) -> None:
    async with api_client(store, twilio=twilio_settings()) as api:
        callback = f"{api.base_url}{TWILIO_STATUS}"
        adapter = TwilioAdapter(http, twilio_settings(base_url=sink.url, status_callback=callback))
        customer(store, "c1", phone="+33612345678")
        result = await deliver(store, templates, {"sms": adapter}, "c1", "sms")
        assert (result.status, result.message_id) == ("sent", "SM0001")
        # The callback URL the adapter gave Twilio names the ledger row.
        [sent] = sink.received(TWILIO_MESSAGES)
        status_url = sent.form()["StatusCallback"]
        assert (
            status_url
            == f"{callback}?delivery_key={request('c1').delivery_key.replace('/', '%2F')}"
        )

        for status in ("sent", "delivered", "sent"):  # the late "sent" arrives out of order
            response = await post_twilio(api, status_url, twilio_form(status))
            assert response.status_code == 204

    [row] = store.ledger.for_customer("c1")
    assert (row.status, row.provider_status) == ("sent", "delivered")  # status is untouched
    assert row.provider_status_at is not None
    assert store.consent.suppressions() == []


async def test_twilio_status_with_a_wrong_signature_is_refused_and_changes_nothing(
    store: Store, templates: Templates, sink: HttpSink, http: httpx.AsyncClient
) -> None:
    async with api_client(store, twilio=twilio_settings()) as api:
        callback = f"{api.base_url}{TWILIO_STATUS}"
        adapter = TwilioAdapter(http, twilio_settings(base_url=sink.url, status_callback=callback))
        customer(store, "c1", phone="+33612345678")
        await deliver(store, templates, {"sms": adapter}, "c1", "sms")
        status_url = sink.received(TWILIO_MESSAGES)[0].form()["StatusCallback"]
        form = twilio_form("undelivered", ErrorCode="30005")
        good = twilio_signature(AUTH_TOKEN, status_url, form.items())
        attempts = [
            {"X-Twilio-Signature": twilio_signature("not-the-token", status_url, form.items())},
            {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, callback, form.items())},  # no key
            {"X-Twilio-Signature": good[:-2] + "x="},
            {},  # unsigned
        ]
        for headers in attempts:
            response = await api.post(status_url, data=form, headers=headers)
            assert response.status_code == 403, headers
        # The right signature over different parameters (a status changed in transit).
        tampered = {**form, "MessageStatus": "delivered"}
        response = await api.post(status_url, data=tampered, headers={"X-Twilio-Signature": good})
        assert response.status_code == 403

    assert provider_status(store, "c1") == [("sms", "sent", None)]
    assert store.consent.suppressions() == []


async def test_twilio_status_behind_a_proxy_is_checked_against_the_public_url(
    store: Store, templates: Templates, sink: HttpSink, http: httpx.AsyncClient
) -> None:
    """Twilio calls https://sms.shop.example/...; the proxy forwards it to us over plain HTTP."""
    public = "https://sms.shop.example/webhooks/twilio/status"
    async with api_client(store, twilio=twilio_settings(status_callback=public)) as api:
        adapter = TwilioAdapter(http, twilio_settings(base_url=sink.url, status_callback=public))
        customer(store, "c1", phone="+33612345678")
        await deliver(store, templates, {"sms": adapter}, "c1", "sms")
        signed_url = sink.received(TWILIO_MESSAGES)[0].form()["StatusCallback"]
        assert signed_url.startswith(public + "?delivery_key=")
        local_url = f"{api.base_url}{TWILIO_STATUS}?{signed_url.split('?', 1)[1]}"
        response = await post_twilio(api, local_url, twilio_form("delivered"), signed_url)
        assert response.status_code == 204

    assert provider_status(store, "c1") == [("sms", "sent", "delivered")]


async def test_an_sms_number_that_cannot_receive_is_suppressed(
    store: Store, templates: Templates, sink: HttpSink, http: httpx.AsyncClient
) -> None:
    async with api_client(store, twilio=twilio_settings()) as api:
        callback = f"{api.base_url}{TWILIO_STATUS}"
        adapter = TwilioAdapter(http, twilio_settings(base_url=sink.url, status_callback=callback))
        customer(store, "c1", phone="+33 6 12 34 56 78")
        await deliver(store, templates, {"sms": adapter}, "c1", "sms")
        status_url = sink.received(TWILIO_MESSAGES)[0].form()["StatusCallback"]
        form = twilio_form("undelivered", ErrorCode="30005", ErrorMessage="Unknown destination")
        assert (await post_twilio(api, status_url, form)).status_code == 204

    [row] = store.ledger.for_customer("c1")
    assert (row.provider_status, row.provider_status_reason) == (
        "undelivered",
        "Twilio error 30005: Unknown destination",
    )
    [entry] = store.consent.suppressions("sms")
    assert entry.address == "+33612345678"
    assert "30005" in entry.reason


async def test_sendgrid_signed_batch_records_delivery_and_a_hard_bounce_suppresses(
    store: Store,
    templates: Templates,
    sink: HttpSink,
    http: httpx.AsyncClient,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    webhook = SendGridWebhookSettings(public_key=public_key_text(signing_key))
    adapter = SendGridAdapter(
        http, SendGridSettings(api_key="SG.k", from_email="club@shop.example", base_url=sink.url)
    )
    outbox = OutboxAdapter(store)
    customer(store, "ana")
    customer(store, "ben", email="Ben@Example.com", phone="+33600000002")
    for name in ("ana", "ben"):
        assert (await deliver(store, templates, {"email": adapter}, name, "email")).status == "sent"
    # What SendGrid echoes back: the custom args of each mail, on each of its events.
    args = {
        r.json()["custom_args"]["customer_id"]: r.json()["custom_args"] for r in sink.received()
    }
    events = [
        {"email": "ana@example.com", "event": "processed", "timestamp": 1700000000, **args["ana"]},
        {"email": "ana@example.com", "event": "delivered", "timestamp": 1700000005, **args["ana"]},
        {
            "email": "ben@example.com",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "timestamp": 1700000006,
            **args["ben"],
        },
        {"email": "ana@example.com", "event": "open", "timestamp": 1700000100, **args["ana"]},
    ]
    body = json.dumps(events).encode()

    async with api_client(store, sendgrid=webhook) as api:
        response = await api.post(
            SENDGRID_EVENTS, content=body, headers=sendgrid_signed(signing_key, body)
        )

    assert response.status_code == 200
    assert response.json() == {"events": 4, "updated": 3}
    assert provider_status(store, "ana") == [("email", "sent", "delivered")]
    assert provider_status(store, "ben") == [("email", "sent", "bounce")]
    [ben_row] = store.ledger.for_customer("ben")
    assert ben_row.provider_status_reason is not None
    assert ben_row.provider_status_reason.startswith("5.1.1 550")
    [entry] = store.consent.suppressions()
    assert (entry.channel, entry.address) == ("email", "ben@example.com")
    assert entry.reason.startswith("hard bounce")

    # A later send to the bounced address: refused before any provider call, whatever the
    # purpose or consent, and the fallback to SMS still works.
    sink_calls = len(sink.received(SENDGRID_SEND))
    adapters = {"email": adapter, "sms": outbox}
    later = request("ben", "email", "sms", delivery_key="journey/promo/ben/entry-2/offer")
    delivery = DeliveryActivities(store, templates, adapters)
    result = await ActivityEnvironment().run(delivery.deliver, later)
    assert [(d.channel, d.status) for d in result.decisions] == [
        ("email", "suppressed:suppression-list"),
        ("sms", "sent"),
    ]
    receipt = request("ben", "email", purpose="transactional", delivery_key="receipt/ben/1")
    result = await ActivityEnvironment().run(delivery.deliver, receipt)
    assert result.status == "suppressed"
    assert [(d.channel, d.status) for d in result.decisions] == [
        ("email", "suppressed:suppression-list")
    ]
    assert len(sink.received(SENDGRID_SEND)) == sink_calls


async def test_a_spam_complaint_suppresses_and_withdraws_marketing_consent(
    store: Store,
    templates: Templates,
    sink: HttpSink,
    http: httpx.AsyncClient,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    # PEM works as well as SendGrid's bare base64 DER.
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    webhook = SendGridWebhookSettings(public_key=pem.decode())
    adapter = SendGridAdapter(
        http, SendGridSettings(api_key="SG.k", from_email="club@shop.example", base_url=sink.url)
    )
    customer(store, "ana")
    await deliver(store, templates, {"email": adapter}, "ana", "email")
    args = sink.received(SENDGRID_SEND)[0].json()["custom_args"]
    body = json.dumps(
        [
            {"email": "ana@example.com", "event": "delivered", "timestamp": 1700000005, **args},
            {"email": "ana@example.com", "event": "spamreport", "timestamp": 1700000500, **args},
        ]
    ).encode()

    async with api_client(store, sendgrid=webhook) as api:
        response = await api.post(
            SENDGRID_EVENTS, content=body, headers=sendgrid_signed(signing_key, body)
        )

    assert response.status_code == 200
    assert provider_status(store, "ana") == [("email", "sent", "spamreport")]
    assert [(s.channel, s.address) for s in store.consent.suppressions()] == [
        ("email", "ana@example.com")
    ]
    customer_now = store.customers.get("ana")
    assert customer_now is not None and customer_now["consent"]["email"] is False
    [change] = store.consent.changes("ana")
    assert (change.channel, change.granted, change.source) == ("email", False, "spam-complaint")


async def test_sendgrid_refuses_unsigned_and_badly_signed_batches(
    store: Store, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    customer(store, "ana")
    store.ledger.record(
        Delivery(delivery_key="k1", channel="email", status="sent", customer_id="ana")
    )
    events = [
        {"email": "ana@example.com", "event": "bounce", "type": "bounce", "delivery_key": "k1"}
    ]
    body = json.dumps(events).encode()
    other = ec.generate_private_key(ec.SECP256R1())
    signed = sendgrid_signed(signing_key, body)
    attempts = [
        {"Content-Type": "application/json"},  # unsigned
        sendgrid_signed(other, body),  # someone else's key
        sendgrid_signed(signing_key, body + b" "),  # signed a different body
        {**signed, TIMESTAMP: str(int(signed[TIMESTAMP]) + 1)},  # timestamp changed
        {**signed, SIGNATURE: "not base64!"},
    ]
    webhook = SendGridWebhookSettings(public_key=public_key_text(signing_key))
    async with api_client(store, sendgrid=webhook) as api:
        for headers in attempts:
            response = await api.post(SENDGRID_EVENTS, content=body, headers=headers)
            assert response.status_code == 403, headers
    # No key configured: every post is refused, signed or not...
    async with api_client(store, sendgrid=SendGridWebhookSettings()) as api:
        response = await api.post(SENDGRID_EVENTS, content=body, headers=signed)
        assert response.status_code == 403
    assert provider_status(store, "ana") == [("email", "sent", None)]
    assert store.consent.suppressions() == []

    # ...unless the operator says to accept unsigned posts (local testing only).
    insecure = SendGridWebhookSettings(insecure=True)
    async with api_client(store, sendgrid=insecure) as api:
        response = await api.post(
            SENDGRID_EVENTS, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200
        not_a_list = await api.post(SENDGRID_EVENTS, json={"event": "bounce"})
        assert not_a_list.status_code == 400
    assert provider_status(store, "ana") == [("email", "sent", "bounce")]


def test_an_unusable_sendgrid_key_stops_the_start(store: Store) -> None:
    with pytest.raises(SettingsError, match="JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        create_app(Settings(), store, sendgrid=SendGridWebhookSettings(public_key="bm9wZQ=="))
    rsa_like = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"
    with pytest.raises(SettingsError, match="JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        create_app(Settings(), store, sendgrid=SendGridWebhookSettings(public_key=rsa_like))
