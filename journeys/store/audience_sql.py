"""The SQL behind scheduled audiences: one page of candidates at a time, never everyone.

Every audience is a ``SELECT customers.id ... WHERE id > :after ORDER BY id LIMIT :n``
(keyset paging) with one filter per clause the marketer wrote (attribute and event-history
filters come from ``journeys.store.audience_filters_sql``). Time zones are resolved in
Python, not SQL: the distinct ``time_zone`` values are few (hundreds at most), so "whose
birthday is today in their own zone" becomes "zones where today is 03-05, born on 03-05",
an indexed lookup that SQLite and PostgreSQL answer alike; a date attribute ("renews in
14 days") is grouped the same way.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from journeys.loyalty.program import last_local_day
from journeys.model.scenario import Audience
from journeys.store.audience_filters_sql import (
    attribute_clause,
    date_attribute_clause,
    event_clause,
)
from journeys.store.loyalty_tables import EXPIRED, CustomerSegment, PointsLot, TierState
from journeys.store.tables import Customer


@dataclass(frozen=True)
class AudienceMember:
    """A customer picked for one occasion; ``properties`` go into the trigger event."""

    customer_id: str
    occasion: str
    properties: dict[str, Any] = field(default_factory=dict)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def birthday_groups(session: Session, at: datetime) -> dict[date, list[str]]:
    """Local date at ``at`` → the time zones where it is that date (at most three dates)."""
    zones = session.exec(select(Customer.time_zone).distinct()).all()
    groups: dict[date, list[str]] = {}
    for name in zones:
        groups.setdefault(at.astimezone(zone(name or "UTC")).date(), []).append(name)
    return groups


def _born_on(today: date) -> Any:
    """Born on today's month and day; on 28 Feb of a non-leap year, also on 29 Feb."""
    same_day = and_(Customer.birth_month == today.month, Customer.birth_day == today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        return or_(same_day, and_(Customer.birth_month == 2, Customer.birth_day == 29))
    return same_day


def audience_page(
    session: Session, audience: Audience, at: datetime, after: str, limit: int
) -> tuple[list[AudienceMember], str]:
    """Up to ``limit`` members with ids after ``after``, and the last id read ("" at the end).

    With ``birthday`` or ``date_attribute``, each local date present among the zones is
    paged in turn, and the cursor is ``"<local date>|<customer id>"``: the date, not a
    position, so a zone that appears mid-scan (an import) cannot shift the scan onto another
    date's ids.
    """
    dialect = session.get_bind().dialect.name
    filters = _filters(audience, at, dialect)
    if audience.birthday is None and audience.date_attribute is None:
        return _page(session, audience, at, filters, after, limit)
    resume, _, after_id = after.partition("|") if after else ("", "", "")
    for today, zones in sorted(birthday_groups(session, at).items()):
        if resume and today.isoformat() < resume:
            continue
        if today.isoformat() != resume:
            after_id = ""
        on_today = [col(Customer.time_zone).in_(zones), *_dated(audience, today, dialect)]
        members, last = _page(session, audience, at, [*on_today, *filters], after_id, limit, today)
        if last:
            return members, f"{today.isoformat()}|{last}"
        resume = ""
    return [], ""


def _dated(audience: Audience, today: date, dialect: str) -> list[Any]:
    """The filter of the audience's date, for customers whose local date is ``today``."""
    if audience.birthday is not None:
        return [_born_on(today)]
    rule = audience.date_attribute
    assert rule is not None
    return [date_attribute_clause(rule.name, today + timedelta(days=rule.days_before), dialect)]


def _filters(audience: Audience, at: datetime, dialect: str) -> list[Any]:
    filters: list[Any] = [attribute_clause(rule, dialect) for rule in audience.attributes or []]
    filters += [event_clause(rule, at) for rule in audience.events or []]
    if audience.tier is not None:
        tiers = select(TierState.customer_id).where(col(TierState.tier).in_(audience.tier))
        filters.append(col(Customer.id).in_(tiers))
    if audience.segment is not None:
        segments = select(CustomerSegment.customer_id).where(
            col(CustomerSegment.segment).in_(audience.segment)
        )
        filters.append(col(Customer.id).in_(segments))
    if audience.inactive is not None:
        filters.append(col(Customer.last_seen_at) <= at - audience.inactive)
    if audience.points_expiring is not None:
        expiring = select(PointsLot.customer_id).where(*_expiring(audience, at))
        filters.append(col(Customer.id).in_(expiring))
    return filters


def _expiring(audience: Audience, at: datetime) -> list[Any]:
    """Spendable lots whose expiry falls within the audience's window after ``at``."""
    assert audience.points_expiring is not None
    return [
        PointsLot.status != EXPIRED,
        PointsLot.remaining > 0,
        col(PointsLot.expires_at) > at,
        col(PointsLot.expires_at) <= at + audience.points_expiring,
    ]


def _page(
    session: Session,
    audience: Audience,
    at: datetime,
    filters: list[Any],
    after: str,
    limit: int,
    birthday: date | None = None,
) -> tuple[list[AudienceMember], str]:
    """One page; ``birthday`` is the local date of the zone group being paged (the birthday,
    or the day a date attribute is counted from)."""
    query = (
        select(Customer.id, Customer.time_zone, Customer.birthday, Customer.last_seen_at)
        .where(col(Customer.id) > after, *filters)
        .order_by(col(Customer.id))
        .limit(limit)
    )
    rows = session.exec(query).all()
    if not rows:
        return [], ""
    expiries = _next_expiries(session, audience, at, [row[0] for row in rows])
    members = []
    for customer_id, zone_name, born, last_seen in rows:
        local = zone(zone_name or "UTC")
        properties: dict[str, Any] = {}
        occasion = ""
        if birthday is not None and audience.birthday is not None:
            occasion = birthday.isoformat()
            properties = {"birthday": occasion, "age": _age(born, birthday)}
        elif birthday is not None and audience.date_attribute is not None:
            rule = audience.date_attribute
            day = (birthday + timedelta(days=rule.days_before)).isoformat()
            occasion = f"{rule.name}:{day}"
            properties = {rule.name: day, "date": day, "days_before": rule.days_before}
        if customer_id in expiries:
            expires_at, amount = expiries[customer_id]
            last_day = last_local_day(expires_at, local).isoformat()
            properties |= {"expires_at": expires_at.isoformat(), "expires_on": last_day}
            properties["amount"] = amount
            occasion = occasion or f"expires:{expires_at.isoformat()}"
        if audience.inactive is not None and last_seen is not None:
            properties["last_seen_at"] = last_seen.isoformat()
            occasion = occasion or f"inactive:{last_seen.isoformat()}"
        occasion = occasion or f"scan:{at.isoformat()}"
        members.append(AudienceMember(customer_id, occasion, properties))
    return members, rows[-1][0]


def _age(born: date | None, on: date) -> int | None:
    """Years completed on the birthday ``on`` (a 29 February birthday kept on 28 February
    in other years counts as reached)."""
    if born is None:
        return None
    return on.year - born.year


def _next_expiries(
    session: Session, audience: Audience, at: datetime, customer_ids: list[str]
) -> dict[str, tuple[datetime, int]]:
    """Per customer of the page: the earliest expiry in the window and what expires then."""
    if audience.points_expiring is None:
        return {}
    window = [col(PointsLot.customer_id).in_(customer_ids), *_expiring(audience, at)]
    first = (
        select(PointsLot.customer_id, func.min(PointsLot.expires_at).label("first"))
        .where(*window)
        .group_by(col(PointsLot.customer_id))
        .subquery()
    )
    query = (
        select(PointsLot.customer_id, PointsLot.expires_at, func.sum(PointsLot.remaining))
        .join(
            first,
            and_(
                first.c.customer_id == PointsLot.customer_id,
                first.c.first == PointsLot.expires_at,
            ),
        )
        .where(*window)
        .group_by(col(PointsLot.customer_id), col(PointsLot.expires_at))
    )
    return {
        customer_id: (expires_at, int(amount))
        for customer_id, expires_at, amount in session.exec(query).all()
    }
