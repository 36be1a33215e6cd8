"""What templates and expressions see: ``customer``, ``event``, ``last_event``, ``now``, the
loyalty snapshot (``points``, the wallet; ``tier``; ``segment``, from RFM), the scenario's
constants, ``vars``, and ``coupon``, the last coupon a coupon step issued in this entry
(``None`` before one: ``{% if coupon %}`` works, ``coupon.code`` is an error).

Customer attributes are lifted to the top (``customer.first_name``) because that is how a
marketer thinks of them; the fixed profile fields win over an attribute of the same name.
Event properties likewise sit at the top of ``event`` (``event.cart_total``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from journeys.model.coupon_contracts import IssuedCoupon
from journeys.model.events import Event
from journeys.model.scenario import CouponStep, Scenario
from journeys.rendering.templating import SAMPLE_CUSTOMER, SAMPLE_POINTS, sample_now

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
    coupon: IssuedCoupon | None = None,
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
        "vars": constants or {},
        "coupon": coupon.model_dump() if coupon is not None else None,
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
    }
    coupons = [step for step in scenario.walk() if isinstance(step, CouponStep)]
    coupon = _sample_coupon(scenario, coupons[0]) if coupons else None
    return build_context(
        customer, event, sample_now(), loyalty=loyalty, constants=scenario.vars, coupon=coupon
    )


def _sample_coupon(scenario: Scenario, step: CouponStep) -> IssuedCoupon:
    """The first coupon step's coupon, with a sample code: templates validate against what
    the step would issue (a scenario without a coupon step has ``coupon`` None, so a
    template there that prints ``coupon.code`` fails validation)."""
    now = sample_now()
    return IssuedCoupon(
        code="SAMPLE8K",
        offer=step.offer_name(scenario.id),
        kind="percent" if step.percent is not None else "value",
        percent=step.percent,
        value=step.value if step.value is None else Decimal(step.value),
        currency=(step.currency or "EUR") if step.value is not None else None,
        issued_at=now,
        expires_at=now + step.valid_for,
        expires_on=(now + step.valid_for).date(),
    )
