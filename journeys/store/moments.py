"""Moments and zones as the loyalty store parts take them (points, coupons).

A naive time would be read in the server's zone by ``astimezone``, so it is refused; a
customer's expiry dates are in their own zone, UTC when it is unknown or unreadable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeys.store.tables import Customer


def aware_utc(at: datetime, what: str) -> datetime:
    """``at`` in UTC; ``what`` names the times in the error (``points``, ``coupon``)."""
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone: {what} times must be aware")
    return at.astimezone(UTC)


def customer_zone(customer: Customer | None) -> ZoneInfo:
    """The customer's zone; UTC for an unknown customer or a zone this system cannot read."""
    try:
        return ZoneInfo((customer.time_zone if customer else None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
