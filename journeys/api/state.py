"""What the API's routers share: settings, the store and the provider secrets.

Built once by ``create_app`` and kept on ``app.state``; routers get it through the
``api_state`` dependency, so tests can build an app with their own settings and store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store
from journeys.temporal.relay import Relay


class SendGridWebhookSettings(BaseSettings):
    """``JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY``: SendGrid's verification key (Mail Settings →
    Signed Event Webhook). Without it every event post is refused, unless
    ``JOURNEYS_SENDGRID_WEBHOOK_INSECURE=true`` says to accept unsigned ones (local testing:
    anyone who can reach the endpoint could then suppress addresses).

    ``JOURNEYS_SENDGRID_WEBHOOK_MAX_AGE`` (seconds, default 600): the replay window. A signed
    batch whose signed timestamp is further than that from this server's clock, in the past
    or the future, is refused: a batch captured once cannot be posted again later.
    """

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_SENDGRID_WEBHOOK_", extra="ignore")

    public_key: str | None = None
    insecure: bool = False
    max_age: int = Field(default=600, ge=1)


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    store: Store
    unsubscribe: UnsubscribeSettings
    twilio: TwilioSettings
    sendgrid: SendGridWebhookSettings
    # Parsed from ``sendgrid.public_key`` at start; None when it is not set.
    sendgrid_key: EllipticCurvePublicKey | None
    registry: ScenarioRegistry
    # Routes stored events; None: events are stored and routed by another process's relay.
    relay: Relay | None = None
    # A customer's journeys from Temporal; None when the API has no Temporal connection.
    journeys: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None
    # The program's rules (loyalty.yaml): the referral cap the API enforces, the tiers and
    # the KPIs' assumptions.
    program: LoyaltyProgram = field(default_factory=LoyaltyProgram)


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.journeys
    return state
