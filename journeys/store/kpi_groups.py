"""The groups of a KPI report: each customer's tier or RFM segment as held at the end of
the period, read from the history, and the order a marketer reads the groups in.

The tier state when it has not moved since the end, else the latest ``tier.upgraded`` /
``tier.downgraded`` event before it (a tier state with neither was the lowest tier; a
customer never evaluated is in the lowest tier); the segment when it has not moved since,
else the latest ``rfm_scores`` row before the end (never scored: no segment). Only the
customers whose tier or segment moved after the period are looked up, each by an indexed
read (``ix_events_customer_time``, ``ix_rfm_scores_customer``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, literal, null, select

from journeys.loyalty.program import LoyaltyProgram
from journeys.loyalty.segments import SEGMENTS
from journeys.store.loyalty_tables import CustomerSegment, RfmScore, TierState
from journeys.store.tables import Customer
from journeys.store.tracking_tables import EventRecord

By = Literal["tier", "segment"]
GROUPINGS: tuple[By, ...] = ("tier", "segment")
TIER_EVENTS = ("tier.upgraded", "tier.downgraded")


def group_order(by: By | None, program: LoyaltyProgram) -> list[str]:
    """The groups always shown, in the order a marketer reads them: tiers from the lowest,
    segments from Champions down."""
    if by == "tier":
        return [level.name for level in program.tiers.levels]
    if by == "segment":
        return [name for name, _, _ in reversed(SEGMENTS)]
    return []


def grouping(by: By, until: datetime, lowest: str) -> Any:
    """(customer_id, grp) for every customer: the tier or segment held at ``until``."""
    customers = Customer.__table__
    if by == "tier":
        states, events = TierState.__table__, EventRecord.__table__
        last_move = (
            select(events.c.properties["new_tier"].as_string())
            .where(
                events.c.customer_id == customers.c.id,
                events.c.name.in_(TIER_EVENTS),
                events.c.occurred_at < until,
            )
            .order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        group = case(
            (states.c.customer_id.is_(None), literal(lowest)),  # never evaluated: lowest
            (states.c.since < until, states.c.tier),  # not moved since the period ended
            else_=func.coalesce(last_move, literal(lowest)),
        )
        source = customers.outerjoin(states, states.c.customer_id == customers.c.id)
    else:
        segments, scores = CustomerSegment.__table__, RfmScore.__table__
        last_score = (
            select(scores.c.segment)
            .where(scores.c.customer_id == customers.c.id, scores.c.computed_at < until)
            .order_by(scores.c.computed_at.desc(), scores.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        group = case(
            (segments.c.customer_id.is_(None), null()),  # never scored: no segment
            (segments.c.since < until, segments.c.segment),
            else_=last_score,
        )
        source = customers.outerjoin(segments, segments.c.customer_id == customers.c.id)
    return (
        select(customers.c.id.label("customer_id"), group.label("grp"))
        .select_from(source)
        .subquery("grouped")
    )
