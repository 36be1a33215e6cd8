"""Email over SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

SendGrid answers ``202 Accepted`` with an empty body; the message id is the
``X-Message-Id`` response header. The delivery key travels in ``custom_args``, which
SendGrid copies onto every event of its event webhook, so a bounce or a delivery report can
be matched to the ledger row. SendGrid has no idempotency key: the deliver activity's ledger
is what prevents a second send (see ``activities.channels.http``).

Settings (``JOURNEYS_SENDGRID_*``): ``API_KEY`` and ``FROM_EMAIL`` are required; ``FROM_NAME``,
``REPLY_TO``, ``SANDBOX_MODE`` (SendGrid validates but delivers nothing) and ``BASE_URL``
(``https://api.eu.sendgrid.com`` for EU-pinned accounts, or a local sink in tests).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.channels.base import OutgoingMessage, PermanentChannelError
from activities.channels.http import HttpAdapter, json_or_none, require

__all__ = ["SendGridAdapter", "SendGridSettings", "sendgrid_payload"]


class SendGridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_SENDGRID_", extra="ignore")

    api_key: SecretStr | None = None
    from_email: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    sandbox_mode: bool = False
    base_url: str = "https://api.sendgrid.com"

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.from_email)


def sendgrid_payload(message: OutgoingMessage, settings: SendGridSettings) -> dict[str, Any]:
    """The v3 ``mail/send`` body: text/plain first, then text/html (SendGrid's required order)."""
    sender: dict[str, str] = {"email": str(settings.from_email)}
    if settings.from_name:
        sender["name"] = settings.from_name
    content = [
        {"type": kind, "value": value}
        for kind, value in (("text/plain", message.text), ("text/html", message.html))
        if value
    ]
    payload: dict[str, Any] = {
        "personalizations": [{"to": [{"email": message.recipient}]}],
        "from": sender,
        "subject": message.subject,
        "content": content,
        # Strings only (SendGrid's rule); echoed back on every event-webhook event.
        "custom_args": {
            "delivery_key": message.delivery_key,
            "customer_id": message.customer_id,
            "scenario_id": message.scenario_id,
            "step_id": message.step_id,
        },
        "categories": [message.scenario_id],  # per-scenario statistics in SendGrid
    }
    if settings.reply_to:
        payload["reply_to"] = {"email": settings.reply_to}
    if settings.sandbox_mode:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


class SendGridAdapter(HttpAdapter):
    provider = "sendgrid"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SendGridSettings | None = None,
        *,
        max_retry_after: float = 3600.0,
    ) -> None:
        super().__init__(client, max_retry_after=max_retry_after)
        self.settings = settings or SendGridSettings()
        require(self.settings, "api_key", "from_email")

    async def build_request(self, message: OutgoingMessage) -> httpx.Request:
        assert self.settings.api_key is not None
        if not message.text and not message.html:
            raise PermanentChannelError("sendgrid: the rendered email has no text and no HTML")
        return self.client.build_request(
            "POST",
            f"{self.settings.base_url.rstrip('/')}/v3/mail/send",
            json=sendgrid_payload(message, self.settings),
            headers={"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}"},
        )

    def parse_message_id(self, message: OutgoingMessage, response: httpx.Response) -> str:
        # Missing only if a proxy strips it: the key still correlates the events.
        return response.headers.get("X-Message-Id") or f"sendgrid:{message.delivery_key}"

    def error_text(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            parts = []
            for error in errors:
                if not isinstance(error, dict):
                    continue
                field = error.get("field")
                text = str(error.get("message", "")).strip()
                parts.append(f"{text} ({field})" if field else text)
            if parts:
                return "; ".join(parts)
        return super().error_text(response)
