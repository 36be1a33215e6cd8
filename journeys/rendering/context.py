"""What templates and expressions see: ``customer``, ``event``, ``last_event``, ``now``, the
loyalty snapshot (``points``, the wallet; ``tier``; ``segment``, from RFM; ``referral``,
the customer's referral code), ``counters`` (``loyalty.yaml`` counters as of the trigger
event), the scenario's constants, ``vars``, and ``coupon``, the last coupon a coupon step
issued in this entry (``None`` before one: ``{% if coupon %}`` works, ``coupon.code`` is an
error). Messages also get ``survey_url(score)``, the signed answer link, from the deliver
activity (a sample one here).

Customer attributes are lifted to the top (``customer.first_name``) because that is how a
marketer thinks of them; the fixed profile fields win over an attribute of the same name.
Event properties likewise sit at the top of ``event`` (``event.cart_total``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from journeys.model.coupon_contracts import IssuedCoupon
from journeys.model.events import Event
from journeys.model.scenario import CouponStep, Scenario
from journeys.model.surveys import score_problem, survey_name_problem
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
    context.setdefault("counters", dict(event.counters))
    return context


# What a counter reads as in validation and previews, unless the sample says otherwise.
SAMPLE_COUNT = 3


class AnyCounter(dict[str, int]):
    """Sample counters when the declared ones are not known (a registry loaded without
    ``loyalty.yaml``): every name reads as a count. ``journeys validate`` and the worker
    pass the declared names instead, so ``counters.visit`` for ``visits`` is an error."""

    def __missing__(self, name: str) -> int:
        return SAMPLE_COUNT


def sample_counters(written: Mapping[str, int], declared: Collection[str] | None) -> dict[str, int]:
    """Every declared counter at its sample value (``sample.counters``, else 3)."""
    if declared is None:
        return AnyCounter(written)
    return {name: written.get(name, SAMPLE_COUNT) for name in sorted(declared)}


def build_context(
    customer: dict[str, Any],
    event: Event | None,
    now: datetime,
    last_event: Event | None = None,
    loyalty: dict[str, Any] | None = None,
    constants: dict[str, Any] | None = None,
    counters: Mapping[str, int] | None = None,
    coupon: IssuedCoupon | None = None,
) -> dict[str, Any]:
    """``loyalty``: ``store.loyalty.snapshot`` (points, tier, segment), read with the customer.
    ``counters``: what the journey sees as ``counters`` (``store.counters.view``); by
    default those the trigger event carries."""
    loyalty = loyalty or {}
    if counters is None:
        counters = event.counters if event is not None else {}
    return {
        "customer": customer,
        "event": event_context(event),
        "last_event": event_context(last_event or event),
        "now": now,
        "points": loyalty.get("points") or EMPTY_POINTS,
        "tier": loyalty.get("tier"),
        "segment": loyalty.get("segment"),
        "counters": counters,
        "referral": loyalty.get("referral") or {},  # read only for sources that name it
        "vars": constants or {},
        "coupon": coupon.model_dump() if coupon is not None else None,
    }


def sample_context(scenario: Scenario, counters: Collection[str] | None = None) -> dict[str, Any]:
    """The scenario's sample (or defaults) shaped like a real journey's context, with a
    ``survey_url`` that checks its arguments as the real one does but signs nothing.

    ``counters``: the names ``loyalty.yaml`` declares, each at its sample value, so that a
    misspelt counter fails here; None: any name reads as a count."""
    customer = {**SAMPLE_CUSTOMER, **scenario.sample.customer}
    counts = sample_counters(scenario.sample.counters, counters)
    event = Event(
        id="sample-event",
        name=scenario.trigger.event,
        customer_id=str(customer["id"]),
        properties=dict(scenario.sample.event),
        counters=counts,
    )
    sample = scenario.sample
    last_event = None
    if sample.last_event:
        last_event = Event(
            id="sample-last-event",
            name="sample.last_event",
            customer_id=str(customer["id"]),
            properties=dict(sample.last_event),
        )
    loyalty = {
        "points": {**SAMPLE_POINTS, **sample.points},
        "tier": sample.tier,
        "segment": sample.segment,
        "referral": SAMPLE_REFERRAL,
    }
    coupons = [step for step in scenario.walk() if isinstance(step, CouponStep)]
    context = build_context(
        customer,
        event,
        sample_now(),
        last_event,
        loyalty=loyalty,
        constants=scenario.vars,
        counters=counts,
        coupon=_sample_coupon(scenario, coupons[0]) if coupons else None,
    )
    context["event"]["counters"] = counts
    if last_event is None:
        context["last_event"]["counters"] = counts
    context["survey_url"] = sample_survey_url(scenario.id)
    return context


SAMPLE_SURVEY_BASE = "https://journeys.example.com/s/"


def sample_survey_url(default_survey: str) -> Callable[..., str]:
    """``survey_url(score, survey=None)`` for validate and preview: the real one
    (``journeys.delivery.surveys``) needs the secret key, which a marketer's laptop lacks;
    this one refuses the same arguments, so ``survey_url(11)`` fails validation."""

    def make(score: int, survey: str | None = None) -> str:
        name = default_survey if survey is None else survey
        if problem := survey_name_problem(name) or score_problem(score):
            raise ValueError(f"survey_url: {problem}")
        return f"{SAMPLE_SURVEY_BASE}sample-{quote(name, safe='')}-{score}"

    return make


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
