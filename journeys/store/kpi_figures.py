"""The program KPIs of one bucket and group: the counts the database sums, and the figures
derived from them (README, "Program KPIs", defines each one).

Every count is additive over customers, and a customer is in one group only (the tier or
segment held at the end of the period), so the figures of the whole program are those of
the summed counts of its groups: no second pass over the tables. A figure whose
denominator is zero is ``None`` (a dash in the CLI), never 0: "no answer" is not "NPS 0".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

DAYS_PER_YEAR = 365.25


@dataclass
class Counts:
    """What the SQL aggregates give for one (bucket, group)."""

    members: int = 0  # joined before the bucket's end
    active: int = 0  # customers with >= 1 purchase in the bucket
    purchases: int = 0
    revenue: float = 0.0
    repeaters: int = 0  # customers with >= 2 purchases in the bucket
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    responses: int = 0  # customers whose latest valid NPS answer is in the bucket
    promoters: int = 0
    detractors: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass
class KpiFigures:
    members: int
    active_members: int
    active_member_ratio: float | None
    purchases: int
    revenue: float
    purchase_frequency: float | None
    average_order_value: float | None
    repeat_customers: int
    repeat_purchase_rate: float | None
    points_earned: int
    points_redeemed: int
    points_expired: int
    redemption_rate: float | None
    breakage: float | None
    clv: float | None
    nps_responses: int
    promoters: int
    detractors: int
    nps: float | None


@dataclass
class KpiGroup:
    group: str | None  # the tier or segment; None: no segment (never scored)
    figures: KpiFigures


@dataclass
class KpiBucket:
    since: datetime
    until: datetime
    overall: KpiFigures
    groups: list[KpiGroup]


@dataclass
class KpiReport:
    since: datetime
    until: datetime
    by: str | None  # tier | segment
    series: str | None  # day | week | month
    lifetime_years: float
    overall: KpiFigures
    groups: list[KpiGroup]
    buckets: list[KpiBucket]  # empty without a series


def figures(counts: Counts, days: float, lifetime_years: float) -> KpiFigures:
    """The KPIs of ``counts`` gathered over ``days`` days."""
    revenue = round(counts.revenue, 2)
    per_member_year = _ratio(counts.revenue * DAYS_PER_YEAR / days, counts.members, None)
    return KpiFigures(
        members=counts.members,
        active_members=counts.active,
        active_member_ratio=_ratio(counts.active, counts.members),
        purchases=counts.purchases,
        revenue=revenue,
        purchase_frequency=_ratio(counts.purchases, counts.active),
        average_order_value=_ratio(counts.revenue, counts.purchases, 2),
        repeat_customers=counts.repeaters,
        repeat_purchase_rate=_ratio(counts.repeaters, counts.active),
        points_earned=counts.earned,
        points_redeemed=counts.redeemed,
        points_expired=counts.expired,
        redemption_rate=_ratio(counts.redeemed, counts.earned),
        breakage=_ratio(counts.expired, counts.earned),
        clv=None if per_member_year is None else round(per_member_year * lifetime_years, 2),
        nps_responses=counts.responses,
        promoters=counts.promoters,
        detractors=counts.detractors,
        nps=_ratio(100 * (counts.promoters - counts.detractors), counts.responses, 1),
    )


def _ratio(part: float, whole: float, digits: int | None = 4) -> float | None:
    if not whole:
        return None
    value = part / whole
    return value if digits is None else round(value, digits)
