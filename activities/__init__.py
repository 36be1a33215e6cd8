"""Every side effect of a journey: the activities a worker registers.

``build_activities`` is the one wiring point, used by ``worker.py`` and by tests, so tests
exercise exactly the production set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from activities.badges import BadgeActivities
from activities.channels import ChannelAdapter, default_adapters
from activities.coupons import CouponActivities
from activities.deliver import DeliveryActivities
from activities.journey_context import JourneyContextActivities
from journeys.delivery.governance import Governance
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.loyalty.program import LoyaltyProgram
from journeys.rendering.templating import Expressions, Templates
from journeys.store import Store

__all__ = [
    "CouponActivities",
    "DeliveryActivities",
    "JourneyContextActivities",
    "build_activities",
]


def build_activities(
    store: Store,
    templates: Templates,
    expressions: Expressions,
    adapters: Mapping[str, ChannelAdapter] | None = None,
    governance: Governance | None = None,
    program: LoyaltyProgram | None = None,
    links: UnsubscribeSettings | None = None,
) -> list[Callable[..., Any]]:
    """The bound activity methods; channels default to the outbox for email, sms and push.
    ``links`` signs survey answer links (default: from the environment, when first needed)."""
    delivery = DeliveryActivities(
        store,
        templates,
        adapters or default_adapters(store),
        governance,
        links,
        program.counters if program is not None else None,
    )
    context = JourneyContextActivities(store, expressions, program)
    badges = BadgeActivities(store)
    coupons = CouponActivities(store, program)
    return [
        delivery.deliver,
        context.evaluate_condition,
        context.resolve_wait_until,
        context.update_customer,
        context.change_points,
        context.record_fact,
        context.record_facts,
        context.record_entry,
        badges.award_badge,
        coupons.issue_coupon,
    ]
