"""Reading what a journey's context needs from the store, only what its sources use: the
loyalty snapshot (``points``, ``tier``, ``segment``, ``referral``), ``counters`` and
``customer.badges``.

Shared by the context activities (conditions, updates) and the deliver activity. A journey
sees the counters its trigger event carries (the count as of that event, this one
included: the 10th visit's journey reads 10 even after an 11th visit); counters it does
not carry (a scheduled journey, a trigger no counter counts, a counter declared since) are
read from the store as of the journey's clock. Neither costs a query for a template or an
expression that does not mention them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeys.loyalty.counters import CounterRule
from journeys.model.contracts import JourneyContext
from journeys.rendering.store_reads import BADGES, COUNTERS
from journeys.rendering.templating import LOYALTY_NAMES, REFERRAL_NAME
from journeys.store import Store


def used_reads(
    store: Store,
    rules: Mapping[str, CounterRule],
    journey: JourneyContext,
    customer: dict[str, Any],
    used: frozenset[str] | None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, int] | None]:
    """The customer (with badges), the loyalty snapshot and the counters, each read only
    when ``used`` names it (None: all, but a referral code, which is made on first ask)."""
    loyalty: dict[str, Any] = {}
    if used is None or used & LOYALTY_NAMES:
        referral = used is not None and REFERRAL_NAME in used
        loyalty = store.loyalty.snapshot(journey.customer_id, journey.now, referral=referral)
    counters = counters_seen(store, rules, journey, used)
    return with_badges(store, customer, used), loyalty, counters


def with_badges(
    store: Store, customer: dict[str, Any], used: frozenset[str] | None
) -> dict[str, Any]:
    """The customer with ``badges`` (a list of names) when ``used`` reads them (None: all)."""
    if used is not None and BADGES not in used:
        return customer
    return {**customer, "badges": store.badges.of(str(customer["id"]))}


def counters_seen(
    store: Store,
    rules: Mapping[str, CounterRule],
    journey: JourneyContext,
    used: frozenset[str] | None,
) -> dict[str, int] | None:
    """What ``counters`` is for this journey when ``used`` reads it (None: all); None when
    it does not (the context then shows what the trigger event carries)."""
    if used is not None and COUNTERS not in used:
        return None
    carried = journey.event.counters if journey.event is not None else {}
    return store.counters.view(journey.customer_id, rules, journey.now, carried)
