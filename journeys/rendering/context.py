"""What templates and expressions see: ``customer``, ``event``, ``last_event``, ``now``, the
loyalty snapshot (``points``, the wallet; ``tier``; ``segment``, from RFM; ``referral``,
the customer's referral code) and the scenario's constants, ``vars``.

Customer attributes are lifted to the top (``customer.first_name``) because that is how a
marketer thinks of them; the fixed profile fields win over an attribute of the same name.
Event properties likewise sit at the top of ``event`` (``event.cart_total``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeys.model.events import Event
from journeys.model.scenario import Scenario
from journeys.rendering.templating import (
    SAMPLE_CUSTOMER,
    SAMPLE_POINTS,
    SAMPLE_REFERRAL,
    sample_now,
)

# A customer with no wallet yet: every field present, so ``points.balance`` is 0 in a
# template, never a strict-undefined error.
EMPTY_POINTS: dict[str, Any] = {
    "balance": 0,
    "pending": 0,
    "next_expiring_amount": 0,
    "next_expiring_at": None,
    "next_expiring_on": None,
    "earned": 0,
    "redeemed": 0,
    "expired": 0,
}


def event_context(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {}
    context = dict(event.properties)
    context.setdefault("name", event.name)
    context.setdefault("id", event.id)
    if event.occurred_at is not None:
        context.setdefault("occurred_at", event.occurred_at)
    return context


def build_context(
    customer: dict[str, Any],
    event: Event | None,
    now: datetime,
    last_event: Event | None = None,
    loyalty: dict[str, Any] | None = None,
    constants: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``loyalty``: ``store.loyalty.snapshot`` (points, tier, segment), read with the customer."""
    loyalty = loyalty or {}
    return {
        "customer": customer,
        "event": event_context(event),
        "last_event": event_context(last_event or event),
        "now": now,
        "points": loyalty.get("points") or EMPTY_POINTS,
        "tier": loyalty.get("tier"),
        "segment": loyalty.get("segment"),
        "referral": loyalty.get("referral") or {},  # read only for sources that name it
        "vars": constants or {},
    }


def sample_context(scenario: Scenario) -> dict[str, Any]:
    """The scenario's sample (or defaults) shaped like a real journey's context."""
    customer = {**SAMPLE_CUSTOMER, **scenario.sample.customer}
    event = Event(
        id="sample-event",
        name=scenario.trigger.event,
        customer_id=str(customer["id"]),
        properties=dict(scenario.sample.event),
    )
    sample = scenario.sample
    loyalty = {
        "points": {**SAMPLE_POINTS, **sample.points},
        "tier": sample.tier,
        "segment": sample.segment,
        "referral": SAMPLE_REFERRAL,
    }
    return build_context(customer, event, sample_now(), loyalty=loyalty, constants=scenario.vars)
