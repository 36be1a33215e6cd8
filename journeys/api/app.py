"""The HTTP API: one FastAPI app, one router module per concern.

Today: the signed one-click unsubscribe links (``journeys.api.unsubscribe``) and the
provider status webhooks (``journeys.api.provider_events``), plus ``/healthz``. The event
ingestion and customer API will join them on the same app. ``journeys up`` serves it beside
the worker; ``journeys api`` serves it alone (``journeys.api.serve``).

Handlers are async and hand every database call to a thread: under ``journeys up`` the app
shares its event loop with the Temporal worker, which a blocking call would stall.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from activities.channels.twilio import TwilioSettings
from journeys.api import provider_events, unsubscribe
from journeys.api.signatures import load_sendgrid_public_key
from journeys.api.state import ApiState, SendGridWebhookSettings
from journeys.settings import Settings, SettingsError
from journeys.store import Store
from journeys.unsubscribe import UnsubscribeSettings

log = logging.getLogger("journeys.api")


def create_app(
    settings: Settings,
    store: Store,
    *,
    unsubscribe_settings: UnsubscribeSettings | None = None,
    twilio: TwilioSettings | None = None,
    sendgrid: SendGridWebhookSettings | None = None,
) -> FastAPI:
    """The app over ``store``; provider settings default to the environment.

    Raises ``SettingsError`` for a SendGrid webhook key that cannot be used, so a typo stops
    the start instead of refusing every webhook later.
    """
    sendgrid = sendgrid or SendGridWebhookSettings()
    sendgrid_key = None
    if sendgrid.public_key:
        try:
            sendgrid_key = load_sendgrid_public_key(sendgrid.public_key)
        except ValueError as err:
            raise SettingsError(f"JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY: {err}") from None
    elif not sendgrid.insecure:
        log.info(
            "SendGrid event webhook refuses every post: set JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY"
        )
    else:
        log.warning(
            "SendGrid event webhook accepts UNSIGNED posts (JOURNEYS_SENDGRID_WEBHOOK_INSECURE)"
        )
    app = FastAPI(
        title="Journeys",
        summary="Loyalty journeys on Temporal: unsubscribe links and provider webhooks.",
        version="0.1.0",
    )
    app.state.journeys = ApiState(
        settings=settings,
        store=store,
        unsubscribe=unsubscribe_settings or UnsubscribeSettings(),
        twilio=twilio or TwilioSettings(),
        sendgrid=sendgrid,
        sendgrid_key=sendgrid_key,
    )
    app.include_router(unsubscribe.router)
    app.include_router(provider_events.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process answers (no dependency is checked: that is what readiness is for)."""
        return {"status": "ok"}

    return app
