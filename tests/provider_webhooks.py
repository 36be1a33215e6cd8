"""Twilio and SendGrid as the webhook tests play them: their paths, their signatures, their
status forms, and a customer whose deliveries they report on."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from journeys.api.signatures import twilio_signature
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store

AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_MESSAGES = "/2010-04-01/Accounts/AC123/Messages.json"
SENDGRID_SEND = "/v3/mail/send"
TWILIO_STATUS = "/webhooks/twilio/status"
SENDGRID_EVENTS = "/webhooks/sendgrid/events"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sendgrid_signed(key: ec.EllipticCurvePrivateKey, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        SIGNATURE: base64.b64encode(signature).decode(),
        TIMESTAMP: timestamp,
    }


def twilio_settings(**fields: Any) -> TwilioSettings:
    values: dict[str, Any] = {
        "account_sid": "AC123",
        "auth_token": AUTH_TOKEN,
        "from_number": "+15005550006",
    }
    return TwilioSettings(**{**values, **fields})


def customer(store: Store, customer_id: str, **profile: Any) -> str:
    profile.setdefault("email", f"{customer_id}@example.com")
    profile.setdefault("consent", {"email": True, "sms": True})
    store.customers.upsert(customer_id, attributes={"first_name": customer_id}, **profile)
    return customer_id


def twilio_form(status: str, **fields: str) -> dict[str, str]:
    return {
        "AccountSid": "AC123",
        "MessageSid": "SM0001",
        "SmsSid": "SM0001",
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+33612345678",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **fields,
    }


async def post_twilio(
    api: httpx.AsyncClient, url: str, form: dict[str, str], signed_url: str | None = None
) -> httpx.Response:
    """Posts ``form`` to ``url`` signed as Twilio signs a request to ``signed_url``."""
    signature = twilio_signature(AUTH_TOKEN, signed_url or url, form.items())
    return await api.post(url, data=form, headers={"X-Twilio-Signature": signature})


def provider_status(store: Store, customer_id: str) -> list[tuple[str, str, str | None]]:
    return [
        (r.channel, r.status, r.provider_status) for r in store.ledger.for_customer(customer_id)
    ]
