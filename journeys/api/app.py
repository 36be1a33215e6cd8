"""The HTTP API: one FastAPI app, one router module per concern.

Today: the signed one-click unsubscribe links (``journeys.api.unsubscribe``) and the
provider status webhooks (``journeys.api.provider_events``), plus ``/healthz``. The event
ingestion and customer API will join them on the same app. ``journeys up`` serves it beside
the worker; ``journeys api`` serves it alone (``journeys.api.serve``).

Every request meets the body limit first (``journeys.api.body_limit``: 413 before a
handler reads anything); refusals are shaped by ``journeys.api.errors`` and the OpenAPI
document is completed by ``journeys.api.openapi``.

Handlers are async and hand every database call to a thread: under ``journeys up`` the app
shares its event loop with the Temporal worker, which a blocking call would stall.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from journeys.api import (
    coupons,
    customers,
    errors,
    events,
    kpis,
    openapi,
    provider_events,
    referrals,
    scenarios,
    surveys,
    unsubscribe,
)
from journeys.api.body_limit import BodyLimit
from journeys.api.signatures import load_sendgrid_public_key
from journeys.api.state import ApiState, SendGridWebhookSettings
from journeys.api.temporal_link import TemporalLink
from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.files.problems import ScenarioError
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.metrics import EVENTS_FAILED, EVENTS_PENDING
from journeys.process.settings import Settings, SettingsError
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store
from journeys.temporal.relay import Relay

log = logging.getLogger("journeys.api")


def create_app(
    settings: Settings,
    store: Store,
    *,
    unsubscribe_settings: UnsubscribeSettings | None = None,
    twilio: TwilioSettings | None = None,
    sendgrid: SendGridWebhookSettings | None = None,
    registry: ScenarioRegistry | None = None,
    temporal: TemporalLink | None = None,
    relay: Relay | None = None,
    program: LoyaltyProgram | None = None,
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
        summary="Loyalty journeys on Temporal: customer events and profiles, unsubscribe "
        "links and provider webhooks.",
        description=API_DESCRIPTION,
        version="0.1.0",
    )
    app.state.journeys = ApiState(
        settings=settings,
        store=store,
        unsubscribe=unsubscribe_settings or UnsubscribeSettings(),
        twilio=twilio or TwilioSettings(),
        sendgrid=sendgrid,
        sendgrid_key=sendgrid_key,
        registry=registry or load_registry(settings),
        relay=relay,
        journeys=temporal.journeys if temporal else None,
        program=program or (temporal.program if temporal else load_program(settings)),
    )
    app.add_middleware(BodyLimit, limit_for=body_limits(settings))
    errors.install(app)
    openapi.install(app)
    app.include_router(events.router)
    app.include_router(customers.router)
    app.include_router(referrals.router)
    app.include_router(scenarios.router)
    app.include_router(kpis.router)
    app.include_router(unsubscribe.router)
    app.include_router(surveys.router)
    app.include_router(provider_events.router)
    app.include_router(coupons.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process answers (no dependency is checked: that is what readiness is for)."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text: events accepted, routing lag, pending and failed events,
        deliveries."""
        state: ApiState = app.state.journeys
        EVENTS_PENDING.set(await asyncio.to_thread(state.store.events.pending_count))
        EVENTS_FAILED.set(await asyncio.to_thread(state.store.events.failed_count))
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> dict[str, str]:
        """Ready when the store answers: events can be accepted (routing may lag)."""
        state: ApiState = app.state.journeys
        pending = await asyncio.to_thread(state.store.events.pending_count)
        failed = await asyncio.to_thread(state.store.events.failed_count)
        return {"status": "ready", "pending_events": str(pending), "failed_events": str(failed)}

    return app


# Endpoints that take many items at once: the larger limit.
BATCH_PATHS = frozenset({"/v1/events/batch", provider_events.SENDGRID_PATH})


def body_limits(settings: Settings) -> Callable[[str], int]:
    """The body limit of each path (``JOURNEYS_API_MAX_BODY_BYTES``, and
    ``JOURNEYS_API_MAX_BATCH_BODY_BYTES`` for batches)."""

    def limit_for(path: str) -> int:
        if path in BATCH_PATHS:
            return settings.api_max_batch_body_bytes
        return settings.api_max_body_bytes

    return limit_for


def load_program(settings: Settings) -> LoyaltyProgram:
    """``loyalty.yaml`` (the defaults without one); a bad file stops the start, naming the
    line, rather than answering every KPI request with a 500 later."""
    try:
        return LoyaltyProgram.load(settings.loyalty_file)
    except ScenarioError as err:
        raise SettingsError(str(err)) from None


def load_registry(settings: Settings) -> ScenarioRegistry:
    """The scenario folder, or none (the API still takes events: the worker routes them)."""
    if not settings.scenarios_dir.is_dir():
        log.warning(
            "no scenario folder at %s: GET /v1/scenarios lists none", settings.scenarios_dir
        )
        return ScenarioRegistry([])
    return ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)


API_DESCRIPTION = """
Send customer events and profiles; every `/v1` call needs `Authorization: Bearer <key>`
(create one with `journeys api-keys create NAME`).

* `POST /v1/events` — one event: `{"customer_id", "name", "properties"?, "id"?, "occurred_at"?}`.
  `202` means stored: it will reach its journeys even if Temporal is down right now.
  Give your own `id` to make retries safe (the same id is applied once).
* `POST /v1/events/batch` — `{"events": [...]}`, up to 500, stored all or none.
* `PUT /v1/customers/{id}` — create or update a profile; `GET` reads it back with points,
  tier and segment; `GET /v1/customers/{id}/journeys` lists its journeys.
* `GET /v1/customers/{id}/referral` — the customer's referral code (made on first ask);
  `POST /v1/referrals` — `{"code", "customer_id"}`: a friend signed up with a code.
* `GET /v1/kpis?since=&until=&by=&series=` — the program's KPIs over a period, by tier or
  segment, as a daily, weekly or monthly series.
* `POST /v1/coupons/{code}/redeem` — `{"customer_id", "order_id", "amount"?}`: redeems a
  coupon once per order (`409` with the reason when it cannot be); `POST
  /v1/coupons/{code}/return` — `{"order_id"}`: the order was cancelled; `GET
  /v1/coupons/{code}`, `GET /v1/customers/{id}/coupons`.

A bad request gets a `4xx` whose message names the field; nothing is written. A body over
the limit (`JOURNEYS_API_MAX_BODY_BYTES`, 1 MiB; `JOURNEYS_API_MAX_BATCH_BODY_BYTES`, 4 MiB,
for batches) gets `413` before anything reads it.
"""
