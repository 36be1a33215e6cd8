"""Which adapter each channel uses, from the environment.

``JOURNEYS_EMAIL_PROVIDER`` (smtp | sendgrid | webhook | outbox), ``JOURNEYS_SMS_PROVIDER``
(twilio | webhook | outbox), ``JOURNEYS_PUSH_PROVIDER`` (fcm | webhook | outbox). Unset
(``auto``) picks the channel's own provider whose settings are present, else the outbox:
nothing leaves the machine until an operator configures a provider. A provider that is chosen but
misconfigured stops the worker at start, with the variable to fix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Literal

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.channels.base import ChannelAdapter
from activities.channels.fcm import FcmAdapter, FcmSettings
from activities.channels.http import HttpSettings, build_http_client
from activities.channels.outbox import OutboxAdapter
from activities.channels.sendgrid import SendGridAdapter, SendGridSettings
from activities.channels.smtp import SmtpAdapter, SmtpSettings
from activities.channels.twilio import TwilioAdapter
from activities.channels.webhook import WebhookAdapter, WebhookSettings
from journeys.model.channels import CHANNELS
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store

Provider = Literal["auto", "outbox", "smtp", "sendgrid", "twilio", "fcm", "webhook"]
# Providers ``auto`` looks for, in order; the webhook is used only when chosen by name.
NATIVE: dict[str, tuple[str, ...]] = {
    "email": ("smtp", "sendgrid"),
    "sms": ("twilio",),
    "push": ("fcm",),
}


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", extra="ignore")

    email_provider: Provider = "auto"
    sms_provider: Provider = "auto"
    push_provider: Provider = "auto"


def _configured(provider: str) -> bool:
    if provider == "smtp":
        return bool(SmtpSettings().host)
    settings = {
        "sendgrid": SendGridSettings,
        "twilio": TwilioSettings,
        "fcm": FcmSettings,
        "webhook": WebhookSettings,
    }[provider]()
    return bool(settings.configured)


def provider_for(channel: str, chosen: str) -> str:
    if chosen == "auto":
        return next((p for p in NATIVE[channel] if _configured(p)), "outbox")
    allowed = (*NATIVE[channel], "webhook", "outbox")
    if chosen not in allowed:
        raise ValueError(
            f"JOURNEYS_{channel.upper()}_PROVIDER={chosen} is not a {channel} provider "
            f"(choose one of {', '.join(allowed)})"
        )
    return chosen


def adapters_from_settings(
    store: Store, settings: ProviderSettings | None = None
) -> dict[str, ChannelAdapter]:
    """One adapter per channel; the HTTP providers share one pooled client per worker."""
    settings = settings or ProviderSettings()
    client: httpx.AsyncClient | None = None
    outbox = OutboxAdapter(store)
    http = HttpSettings()

    def shared_client() -> httpx.AsyncClient:
        nonlocal client
        client = client or build_http_client(http)
        return client

    builders: dict[str, Callable[[], ChannelAdapter]] = {
        "outbox": lambda: outbox,
        "smtp": lambda: SmtpAdapter(SmtpSettings()),
        "sendgrid": lambda: SendGridAdapter(shared_client(), max_retry_after=http.max_retry_after),
        "twilio": lambda: TwilioAdapter(shared_client(), max_retry_after=http.max_retry_after),
        "fcm": lambda: FcmAdapter(shared_client(), store, max_retry_after=http.max_retry_after),
        "webhook": lambda: WebhookAdapter(shared_client(), max_retry_after=http.max_retry_after),
    }
    chosen = {channel: getattr(settings, f"{channel}_provider") for channel in CHANNELS}
    return {
        channel: builders[provider_for(channel, choice)]() for channel, choice in chosen.items()
    }


@asynccontextmanager
async def closing(adapters: Iterable[ChannelAdapter]) -> AsyncIterator[None]:
    """Closes the adapters when the block ends: the shared HTTP client's aiohttp session
    would otherwise be left open ("Unclosed client session") when a worker stops."""
    try:
        yield
    finally:
        for adapter in adapters:
            await adapter.aclose()
