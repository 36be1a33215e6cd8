"""The HTTP provider adapters against a real HTTP server on 127.0.0.1 (``tests.http_sink``).

No mocked transport: each adapter builds its request, the shared ``httpx.AsyncClient`` sends
it over a socket, and the sink records what arrived and answers what the test scripted in
the provider's own response shape.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.channels import OutboxAdapter
from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from activities.channels.fcm import FCM_SCOPE, FcmAdapter, FcmSettings
from activities.channels.http import (
    CONNECTION_FAILED,
    RATE_LIMITED,
    TIMED_OUT,
    UNAVAILABLE,
    ChannelConfigError,
    HttpSettings,
    build_http_client,
    parse_retry_after,
)
from activities.channels.sendgrid import SendGridAdapter, SendGridSettings
from activities.channels.twilio import TwilioAdapter
from activities.channels.webhook import (
    SIGNATURE_HEADER,
    WebhookAdapter,
    WebhookSettings,
    verify_signature,
)
from activities.deliver import DeliveryActivities
from journeys.model.contracts import DeliverRequest, JourneyContext
from journeys.model.events import Event
from journeys.process.twilio_settings import TwilioSettings
from journeys.rendering.templating import Templates
from journeys.store import Store
from tests.http_sink import HttpSink, Reply

KEY = "journey/cart/c1/entry-1/reminder"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SENDGRID_PATH = "/v3/mail/send"
TWILIO_PATH = "/2010-04-01/Accounts/AC123/Messages.json"
FCM_PATH = "/v1/projects/loyalty-app/messages:send"
WEBHOOK_PATH = "/hooks/messages"


def outgoing(channel: str, recipient: str, key: str = KEY, **fields: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "delivery_key": key,
        "channel": channel,
        "recipient": recipient,
        "customer_id": "c1",
        "scenario_id": "cart",
        "step_id": "reminder",
        "subject": "Your cart misses you",
        "text": "Tea & cake are waiting",
        "html": "<p>Tea &amp; cake are waiting</p>",
        "locale": "en",
        "template_file": "cart/reminder.email.j2",
        "journey_time": NOW,
    }
    return OutgoingMessage(**{**values, **fields})


@pytest.fixture(autouse=True)
def no_provider_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from what each test says, not from the machine's environment."""
    prefixes = tuple(f"JOURNEYS_{p}_" for p in ("SENDGRID", "TWILIO", "FCM", "WEBHOOK", "HTTP"))
    for name in list(os.environ):
        if name.startswith(prefixes):
            monkeypatch.delenv(name)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        yield sink


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = HttpSettings(connect_timeout=2, read_timeout=2, write_timeout=2, pool_timeout=2)
    async with build_http_client(settings) as client:
        yield client


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    return store


def sendgrid(sink: HttpSink, client: httpx.AsyncClient) -> SendGridAdapter:
    settings = SendGridSettings(
        api_key="SG.test-key",
        from_email="club@shop.example",
        from_name="Shop Club",
        base_url=sink.url,
    )
    return SendGridAdapter(client, settings)


def twilio(sink: HttpSink, client: httpx.AsyncClient, **fields: Any) -> TwilioAdapter:
    values: dict[str, Any] = {
        "account_sid": "AC123",
        "auth_token": "twilio-secret",
        "from_number": "+15005550006",
        "status_callback": "https://hooks.shop.example/twilio/status?v=1",
        "base_url": sink.url,
    }
    return TwilioAdapter(client, TwilioSettings(**{**values, **fields}))


def fcm(sink: HttpSink, client: httpx.AsyncClient, store: Store, **fields: Any) -> FcmAdapter:
    values: dict[str, Any] = {"project_id": "loyalty-app", "base_url": sink.url}
    if "service_account_json" not in fields:
        values["access_token"] = "ya29.supplied"
    return FcmAdapter(client, store, FcmSettings(**{**values, **fields}))


def webhook(sink: HttpSink, client: httpx.AsyncClient) -> WebhookAdapter:
    settings = WebhookSettings(url=f"{sink.url}{WEBHOOK_PATH}", secret="whsec-test")
    return WebhookAdapter(client, settings)


# Every provider: how to build it, where it posts, a success answer and a 400 in its shape.
@dataclass(frozen=True)
class Provider:
    name: str
    build: Callable[[HttpSink, httpx.AsyncClient, Store], ChannelAdapter]
    path: str
    channel: str
    recipient: str
    accepted: Reply
    message_id: str
    refused: Reply
    refusal_text: str


PROVIDERS = [
    Provider(
        "sendgrid",
        lambda s, c, _store: sendgrid(s, c),
        SENDGRID_PATH,
        "email",
        "ana@example.com",
        Reply(202, headers={"X-Message-Id": "sg-msg-1"}),
        "sg-msg-1",
        Reply(400, {"errors": [{"message": "Invalid email", "field": "personalizations"}]}),
        "Invalid email (personalizations)",
    ),
    Provider(
        "twilio",
        lambda s, c, _store: twilio(s, c),
        TWILIO_PATH,
        "sms",
        "+33612345678",
        Reply(201, {"sid": "SM0001", "status": "queued"}),
        "SM0001",
        Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        "Twilio error 21211: Invalid 'To' Phone Number",
    ),
    Provider(
        "fcm",
        fcm,
        FCM_PATH,
        "push",
        "device-token-1",
        Reply(200, {"name": "projects/loyalty-app/messages/0:1"}),
        "projects/loyalty-app/messages/0:1",
        Reply(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "Invalid JSON payload",
                    "status": "INVALID_ARGUMENT",
                }
            },
        ),
        "INVALID_ARGUMENT: Invalid JSON payload",
    ),
    Provider(
        "webhook",
        lambda s, c, _store: webhook(s, c),
        WEBHOOK_PATH,
        "email",
        "ana@example.com",
        Reply(200, {"id": "hook-1"}),
        "hook-1",
        Reply(422, "recipient not allowed"),
        "recipient not allowed",
    ),
]
by_name = pytest.mark.parametrize("provider", PROVIDERS, ids=[p.name for p in PROVIDERS])


def wire_delay(err: ApplicationError) -> timedelta | None:
    """``next_retry_delay`` as it reaches the Temporal server (the failure proto)."""
    failure = Failure()
    DataConverter.default.failure_converter.to_failure(
        err, DataConverter.default.payload_converter, failure
    )
    info = failure.application_failure_info
    return info.next_retry_delay.ToTimedelta() if info.HasField("next_retry_delay") else None


# Classification, for every provider ---------------------------------------------------------


@by_name
async def test_accepted_returns_the_provider_message_id(
    provider: Provider, sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    sink.reply(provider.path, provider.accepted)
    adapter = provider.build(sink, client, store)
    assert await adapter.send(outgoing(provider.channel, provider.recipient)) == provider.message_id
    [request] = sink.received(provider.path)
    assert request.method == "POST"


@by_name
async def test_429_is_retried_after_the_providers_retry_after(
    provider: Provider, sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    sink.reply(provider.path, Reply(429, "slow down", {"Retry-After": "7"}), provider.accepted)
    adapter = provider.build(sink, client, store)
    message = outgoing(provider.channel, provider.recipient)
    with pytest.raises(ApplicationError) as raised:
        await adapter.send(message)
    err = raised.value
    assert (err.type, err.non_retryable) == (RATE_LIMITED, False)
    assert err.next_retry_delay == timedelta(seconds=7)
    assert wire_delay(err) == timedelta(seconds=7)
    # Temporal's next attempt, same delivery key: accepted.
    assert await adapter.send(message) == provider.message_id
    assert len(sink.received(provider.path)) == 2


@by_name
async def test_500_is_transient(
    provider: Provider, sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    sink.reply(provider.path, Reply(500, "upstream exploded"))
    adapter = provider.build(sink, client, store)
    with pytest.raises(ApplicationError) as raised:
        await adapter.send(outgoing(provider.channel, provider.recipient))
    err = raised.value
    assert (err.type, err.non_retryable, err.next_retry_delay) == (UNAVAILABLE, False, None)
    assert "HTTP 500" in str(err)


@by_name
async def test_400_is_a_permanent_refusal_with_the_providers_text(
    provider: Provider, sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    sink.reply(provider.path, provider.refused)
    adapter = provider.build(sink, client, store)
    with pytest.raises(PermanentChannelError) as raised:
        await adapter.send(outgoing(provider.channel, provider.recipient))
    assert provider.refusal_text in str(raised.value)
    assert len(sink.received(provider.path)) == 1


@by_name
async def test_a_key_already_sent_is_not_sent_again(
    provider: Provider, sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    """The adapter contract: the activity retried after the send returns the first id."""
    sink.reply(provider.path, provider.accepted)
    adapter = provider.build(sink, client, store)
    message = outgoing(provider.channel, provider.recipient)
    assert await adapter.send(message) == await adapter.send(message) == provider.message_id
    assert len(sink.received(provider.path)) == 1


# The shared client and base ----------------------------------------------------------------


async def test_a_provider_that_does_not_answer_in_time_is_transient(sink: HttpSink) -> None:
    sink.reply(SENDGRID_PATH, Reply(202, delay=1.0))
    settings = HttpSettings(read_timeout=0.2)
    async with build_http_client(settings) as client:
        with pytest.raises(ApplicationError) as raised:
            await sendgrid(sink, client).send(outgoing("email", "ana@example.com"))
    assert (raised.value.type, raised.value.non_retryable) == (TIMED_OUT, False)


async def test_a_provider_that_cannot_be_reached_is_transient(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SendGridSettings(
        api_key="SG.k", from_email="club@shop.example", base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(ApplicationError) as raised:
        await SendGridAdapter(client, settings).send(outgoing("email", "ana@example.com"))
    assert (raised.value.type, raised.value.non_retryable) == (CONNECTION_FAILED, False)


async def test_503_with_a_retry_after_date_and_an_absurd_retry_after_is_capped(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    sink.reply(SENDGRID_PATH, Reply(503, headers={"Retry-After": later}))
    adapter = sendgrid(sink, client)
    with pytest.raises(ApplicationError) as raised:
        await adapter.send(outgoing("email", "ana@example.com"))
    assert raised.value.next_retry_delay is not None
    assert timedelta(seconds=110) < raised.value.next_retry_delay <= timedelta(seconds=120)

    sink.reply(SENDGRID_PATH, Reply(429, headers={"Retry-After": "864000"}))
    adapter.max_retry_after = 600
    with pytest.raises(ApplicationError) as raised:
        await adapter.send(outgoing("email", "ana@example.com"))
    assert raised.value.next_retry_delay == timedelta(seconds=600)


def test_retry_after_parsing() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("Tue, 10 Mar 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 10 Mar 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_settings_come_from_the_environment_and_secrets_stay_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_SENDGRID_API_KEY", "SG.from-env")
    monkeypatch.setenv("JOURNEYS_SENDGRID_FROM_EMAIL", "club@shop.example")
    monkeypatch.setenv("JOURNEYS_TWILIO_ACCOUNT_SID", "AC9")
    monkeypatch.setenv("JOURNEYS_TWILIO_AUTH_TOKEN", "tw-from-env")
    monkeypatch.setenv("JOURNEYS_FCM_ACCESS_TOKEN", "ya29.env")
    monkeypatch.setenv("JOURNEYS_WEBHOOK_SECRET", "wh-from-env")
    monkeypatch.setenv("JOURNEYS_HTTP_READ_TIMEOUT", "12.5")
    sendgrid_settings = SendGridSettings()
    assert sendgrid_settings.configured
    assert sendgrid_settings.base_url == "https://api.sendgrid.com"
    assert sendgrid_settings.api_key is not None
    assert sendgrid_settings.api_key.get_secret_value() == "SG.from-env"
    assert "SG.from-env" not in repr(sendgrid_settings)
    twilio_settings = TwilioSettings()
    assert twilio_settings.base_url == "https://api.twilio.com"
    assert not twilio_settings.configured  # no sender yet
    assert "tw-from-env" not in repr(twilio_settings)
    assert FcmSettings().base_url == "https://fcm.googleapis.com"
    assert not FcmSettings().configured  # a supplied token needs a project id
    assert not WebhookSettings().configured
    assert HttpSettings().read_timeout == 12.5


def test_an_adapter_without_credentials_names_the_missing_variables(
    client: httpx.AsyncClient, store: Store
) -> None:
    with pytest.raises(ChannelConfigError, match="JOURNEYS_SENDGRID_API_KEY"):
        SendGridAdapter(client, SendGridSettings(from_email="club@shop.example"))
    with pytest.raises(ChannelConfigError, match="JOURNEYS_TWILIO_FROM_NUMBER"):
        TwilioAdapter(client, TwilioSettings(account_sid="AC1", auth_token="t"))
    with pytest.raises(ChannelConfigError, match="JOURNEYS_FCM_ACCESS_TOKEN"):
        FcmAdapter(client, store, FcmSettings(project_id="p"))
    with pytest.raises(ChannelConfigError, match="JOURNEYS_WEBHOOK_SECRET"):
        WebhookAdapter(client, WebhookSettings(url="https://hooks.example"))


# SendGrid -----------------------------------------------------------------------------------


async def test_sendgrid_request_is_v3_mail_send_with_bearer_auth(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    sink.reply(SENDGRID_PATH, Reply(202, headers={"X-Message-Id": "sg-msg-1"}))
    await sendgrid(sink, client).send(outgoing("email", "ana@example.com"))
    [request] = sink.received(SENDGRID_PATH)
    assert request.headers["authorization"] == "Bearer SG.test-key"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["personalizations"] == [{"to": [{"email": "ana@example.com"}]}]
    assert body["from"] == {"email": "club@shop.example", "name": "Shop Club"}
    assert body["subject"] == "Your cart misses you"
    assert body["content"] == [
        {"type": "text/plain", "value": "Tea & cake are waiting"},
        {"type": "text/html", "value": "<p>Tea &amp; cake are waiting</p>"},
    ]
    assert body["custom_args"]["delivery_key"] == KEY
    assert "mail_settings" not in body


async def test_sendgrid_text_only_email_has_one_part(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    sink.reply(SENDGRID_PATH, Reply(202, headers={"X-Message-Id": "sg-msg-2"}))
    await sendgrid(sink, client).send(outgoing("email", "ana@example.com", html=None))
    [request] = sink.received(SENDGRID_PATH)
    assert request.json()["content"] == [{"type": "text/plain", "value": "Tea & cake are waiting"}]


# Twilio -------------------------------------------------------------------------------------


async def test_twilio_request_is_form_encoded_with_basic_auth_and_a_keyed_callback(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    sink.reply(TWILIO_PATH, Reply(201, {"sid": "SM0001", "status": "queued"}))
    assert await twilio(sink, client).send(outgoing("sms", "+33612345678")) == "SM0001"
    [request] = sink.received(TWILIO_PATH)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    scheme, credentials = request.headers["authorization"].split(" ")
    assert (scheme, base64.b64decode(credentials).decode()) == ("Basic", "AC123:twilio-secret")
    form = request.form()
    callback = httpx.URL(form.pop("StatusCallback"))
    assert form == {"To": "+33612345678", "From": "+15005550006", "Body": "Tea & cake are waiting"}
    assert (callback.host, callback.path) == ("hooks.shop.example", "/twilio/status")
    assert dict(callback.params) == {"v": "1", "delivery_key": KEY}


async def test_twilio_messaging_service_replaces_the_from_number(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    sink.reply(TWILIO_PATH, Reply(201, {"sid": "SM0002"}))
    adapter = twilio(sink, client, messaging_service_sid="MG42", status_callback=None)
    await adapter.send(outgoing("sms", "+33612345678"))
    form = sink.received(TWILIO_PATH)[0].form()
    assert form["MessagingServiceSid"] == "MG42"
    assert "From" not in form and "StatusCallback" not in form


async def test_twilio_not_a_mobile_number_is_permanent(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    refusal = {"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400}
    sink.reply(TWILIO_PATH, Reply(400, refusal))
    with pytest.raises(PermanentChannelError, match="Twilio error 21614"):
        await twilio(sink, client).send(outgoing("sms", "+33112345678"))


# FCM ----------------------------------------------------------------------------------------


async def test_fcm_request_is_v1_messages_send_with_the_supplied_token(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    sink.reply(FCM_PATH, Reply(200, {"name": "projects/loyalty-app/messages/0:1"}))
    await fcm(sink, client, store).send(outgoing("push", "device-token-1"))
    [request] = sink.received(FCM_PATH)
    assert request.headers["authorization"] == "Bearer ya29.supplied"
    message = request.json()["message"]
    assert message["token"] == "device-token-1"
    assert message["notification"] == {
        "title": "Your cart misses you",
        "body": "Tea & cake are waiting",
    }
    assert message["data"]["delivery_key"] == KEY
    # A resend after a crash replaces the notification on the device instead of adding one.
    collapse = message["apns"]["headers"]["apns-collapse-id"]
    assert len(collapse) == 64 and message["android"]["notification"]["tag"] == collapse


def unregistered() -> Reply:
    return Reply(
        404,
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED",
                    }
                ],
            }
        },
    )


async def test_fcm_unregistered_removes_the_device_token_from_the_store(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    store.customers.upsert("c1", push_token="device-token-1", email="ana@example.com")
    store.customers.upsert("c2", push_token="device-token-2")
    sink.reply(FCM_PATH, unregistered())
    with pytest.raises(PermanentChannelError, match="unregistered"):
        await fcm(sink, client, store).send(outgoing("push", "device-token-1"))
    c1 = store.customers.get("c1")
    assert c1 is not None and c1["push_token"] is None
    assert c1["email"] == "ana@example.com"  # only the token goes
    c2 = store.customers.get("c2")
    assert c2 is not None and c2["push_token"] == "device-token-2"


async def test_fcm_unregistered_keeps_a_token_the_app_replaced_meanwhile(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    store.customers.upsert("c1", push_token="device-token-new")
    sink.reply(FCM_PATH, unregistered())
    with pytest.raises(PermanentChannelError, match="already replaced"):
        await fcm(sink, client, store).send(outgoing("push", "device-token-old"))
    c1 = store.customers.get("c1")
    assert c1 is not None and c1["push_token"] == "device-token-new"


async def test_fcm_404_without_unregistered_removes_nothing(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    """A wrong project id also answers 404: it must not wipe every customer's token."""
    store.customers.upsert("c1", push_token="device-token-1")
    sink.reply(FCM_PATH, Reply(404, {"error": {"code": 404, "message": "Not found"}}))
    with pytest.raises(PermanentChannelError):
        await fcm(sink, client, store).send(outgoing("push", "device-token-1"))
    c1 = store.customers.get("c1")
    assert c1 is not None and c1["push_token"] == "device-token-1"


def service_account(token_url: str) -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "loyalty-app",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "journeys@loyalty-app.iam.gserviceaccount.com",
        "token_uri": token_url,
    }
    return json.dumps(info), key.public_key()


async def test_fcm_service_account_token_is_exchanged_once_and_reused(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    token_url = f"{sink.url}/token"
    account, public_key = service_account(token_url)
    sink.reply("/token", Reply(200, {"access_token": "ya29.minted", "expires_in": 3599}))
    sink.reply(FCM_PATH, Reply(200, {"name": "projects/loyalty-app/messages/0:1"}))
    adapter = fcm(sink, client, store, service_account_json=account, project_id=None)
    await adapter.send(outgoing("push", "device-token-1"))
    await adapter.send(outgoing("push", "device-token-1", key=f"{KEY}-2"))

    [exchange] = sink.received("/token")
    form = exchange.form()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], public_key, algorithms=["RS256"], audience=token_url)
    assert claims["iss"] == "journeys@loyalty-app.iam.gserviceaccount.com"
    assert claims["scope"] == FCM_SCOPE
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(form["assertion"])["kid"] == "kid-1"
    sends = sink.received(FCM_PATH)  # the project id came from the service account
    assert [r.headers["authorization"] for r in sends] == ["Bearer ya29.minted"] * 2


async def test_fcm_rejected_service_account_token_is_renewed_on_retry(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    account, _ = service_account(f"{sink.url}/token")
    sink.reply(
        "/token",
        Reply(200, {"access_token": "ya29.first", "expires_in": 3599}),
        Reply(200, {"access_token": "ya29.second", "expires_in": 3599}),
    )
    expired = {"error": {"code": 401, "message": "expired", "status": "UNAUTHENTICATED"}}
    sink.reply(FCM_PATH, Reply(401, expired), Reply(200, {"name": "projects/p/messages/2"}))
    adapter = fcm(sink, client, store, service_account_json=account)
    message = outgoing("push", "device-token-1")
    with pytest.raises(ApplicationError) as raised:
        await adapter.send(message)
    assert raised.value.non_retryable is False
    assert await adapter.send(message) == "projects/p/messages/2"
    assert [r.headers["authorization"] for r in sink.received(FCM_PATH)] == [
        "Bearer ya29.first",
        "Bearer ya29.second",
    ]


async def test_fcm_refused_service_account_is_permanent(
    sink: HttpSink, client: httpx.AsyncClient, store: Store
) -> None:
    account, _ = service_account(f"{sink.url}/token")
    refusal = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    sink.reply("/token", Reply(400, refusal))
    sink.reply(FCM_PATH, Reply(200, {"name": "never"}))
    adapter = fcm(sink, client, store, service_account_json=account)
    with pytest.raises(PermanentChannelError, match="invalid_grant: Invalid JWT Signature"):
        await adapter.send(outgoing("push", "device-token-1"))
    assert sink.received(FCM_PATH) == []


# Webhook ------------------------------------------------------------------------------------


async def test_webhook_is_signed_and_keyed_and_a_tampered_body_fails_verification(
    sink: HttpSink, client: httpx.AsyncClient
) -> None:
    sink.reply(WEBHOOK_PATH, Reply(200, {"id": "hook-1"}))
    await webhook(sink, client).send(outgoing("email", "ana@example.com"))
    [request] = sink.received(WEBHOOK_PATH)
    signature = request.headers[SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert request.headers["idempotency-key"] == KEY
    assert verify_signature(request.body, signature, "whsec-test")
    body = request.json()
    assert (body["delivery_key"], body["recipient"]) == (KEY, "ana@example.com")
    assert body["journey_time"] == NOW.isoformat()

    tampered = request.body.replace(b"ana@example.com", b"eve@example.com")
    assert not verify_signature(tampered, signature, "whsec-test")
    assert not verify_signature(request.body, signature, "another-secret")
    assert not verify_signature(request.body, None, "whsec-test")
    assert not verify_signature(request.body, "sha256=" + "0" * 64, "whsec-test")


# Through the deliver activity ----------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    root = tmp_path / "templates"
    (root / "cart").mkdir(parents=True)
    (root / "cart/reminder.sms.j2").write_text(
        "{% block text %}Cart: {{ event.total }}{% endblock %}"
    )
    (root / "cart/reminder.email.j2").write_text(
        "{% block subject %}Your cart{% endblock %}{% block html %}<p>{{ event.total }}</p>"
        "{% endblock %}{% block text %}{{ event.total }}{% endblock %}"
    )
    return Templates(root)


def deliver_request(*channels: str) -> DeliverRequest:
    event = Event(id="ev1", name="cart.updated", customer_id="c1", properties={"total": "€12"})
    return DeliverRequest(
        delivery_key=KEY,
        workflow_id="journey/cart/c1",
        run_id="run-1",
        scenario_id="cart",
        step_id="reminder",
        channels=list(channels),
        template="cart/reminder",
        purpose="marketing",
        context=JourneyContext(customer_id="c1", event=event, now=NOW),
    )


async def test_deliver_falls_back_to_email_when_twilio_refuses_the_number(
    sink: HttpSink, client: httpx.AsyncClient, store: Store, templates: Templates
) -> None:
    store.customers.upsert(
        "c1", phone="+33100000000", email="ana@example.com", consent={"sms": True, "email": True}
    )
    sink.reply(TWILIO_PATH, Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    adapters = {"sms": twilio(sink, client), "email": OutboxAdapter(store)}
    delivery = DeliveryActivities(store, templates, adapters)
    result = await ActivityEnvironment().run(delivery.deliver, deliver_request("sms", "email"))
    assert (result.status, result.channel) == ("sent", "email")
    rows = {row.channel: row for row in store.ledger.for_customer("c1")}
    assert rows["sms"].status == "failed:adapter"
    assert "Twilio error 21211" in rows["sms"].reason
    assert len(sink.received(TWILIO_PATH)) == 1  # refused for good: never asked again


async def test_deliver_retries_a_rate_limited_sms_with_the_same_key(
    sink: HttpSink, client: httpx.AsyncClient, store: Store, templates: Templates
) -> None:
    store.customers.upsert("c1", phone="+33612345678", consent={"sms": True})
    sink.reply(
        TWILIO_PATH,
        Reply(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "3"}),
    )
    delivery = DeliveryActivities(store, templates, {"sms": twilio(sink, client)})
    request = deliver_request("sms")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(delivery.deliver, request)
    assert (raised.value.non_retryable, raised.value.next_retry_delay) == (
        False,
        timedelta(seconds=3),
    )
    [row] = store.ledger.for_customer("c1")
    assert row.status == "reserved"  # the retry finishes this channel

    sink.reply(TWILIO_PATH, Reply(201, {"sid": "SM0003"}))
    result = await ActivityEnvironment().run(delivery.deliver, request)
    assert (result.status, result.message_id) == ("sent", "SM0003")
    first, second = sink.received(TWILIO_PATH)
    assert first.form() == second.form()
    assert first.form()["Body"] == "Cart: €12"
