"""A generic signed webhook: the rendered message as JSON, POSTed to a configured URL.

For a company's own messaging service (or an integration platform): the receiver gets
every field of the message, and two headers:

* ``X-Journeys-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw request body with the
  shared secret. Receivers check it with ``verify_signature`` (constant time) on the bytes
  they received, before parsing them;
* ``Idempotency-Key: <delivery_key>`` — the same on every retry of one send, so a receiver
  that keeps the keys it has handled turns a retried POST into a no-op. That is the whole
  exactly-once story here: the receiver can dedupe, which no SMS or push provider offers.

The receiver's answer: any 2xx is success; a JSON body with ``id`` (or ``message_id``)
becomes the message id, else the delivery key does. Errors are classified like every HTTP
provider (429/5xx retried, other 4xx refused for good).

Settings (``JOURNEYS_WEBHOOK_*``): ``URL`` and ``SECRET``, both required.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.channels.base import OutgoingMessage
from activities.channels.http import HttpAdapter, json_or_none, require

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "WebhookAdapter",
    "WebhookSettings",
    "sign",
    "verify_signature",
    "webhook_body",
]

SIGNATURE_HEADER = "X-Journeys-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "sha256="


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_WEBHOOK_", extra="ignore")

    url: str | None = None
    secret: SecretStr | None = None

    @property
    def configured(self) -> bool:
        return bool(self.url and self.secret)


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(body: bytes, secret: str | bytes) -> str:
    """The ``X-Journeys-Signature`` value for ``body``."""
    return SCHEME + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str | bytes) -> bool:
    """True when ``header`` is the signature of exactly ``body`` under ``secret``.

    Compare the raw bytes received (not a re-serialised parse of them). The comparison is
    constant time, so a forger learns nothing from how long a rejection takes.
    """
    if not header or not secret:
        return False
    expected = sign(body, secret).encode()
    given = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def webhook_body(message: OutgoingMessage) -> bytes:
    """The signed bytes: compact JSON of every message field, keys sorted."""
    fields = dataclasses.asdict(message)
    fields["journey_time"] = message.journey_time.isoformat()
    return json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class WebhookAdapter(HttpAdapter):
    provider = "webhook"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: WebhookSettings | None = None,
        *,
        max_retry_after: float = 3600.0,
    ) -> None:
        super().__init__(client, max_retry_after=max_retry_after)
        self.settings = settings or WebhookSettings()
        require(self.settings, "url", "secret")

    async def build_request(self, message: OutgoingMessage) -> httpx.Request:
        assert self.settings.url is not None and self.settings.secret is not None
        body = webhook_body(message)
        return self.client.build_request(
            "POST",
            self.settings.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.settings.secret.get_secret_value()),
                IDEMPOTENCY_HEADER: message.delivery_key,
            },
        )

    def parse_message_id(self, message: OutgoingMessage, response: httpx.Response) -> str:
        body = json_or_none(response)
        if isinstance(body, dict):
            for field in ("id", "message_id"):
                if body.get(field):
                    return str(body[field])
        return f"webhook:{message.delivery_key}"
