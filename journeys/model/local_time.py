"""Wall-clock arithmetic in a customer's time zone, DST-correct (pure, no I/O).

Marketers think in local wall-clock time: "at 09:00", "30 days before expiry at 10:00".
Every function here takes aware datetimes and returns aware UTC datetimes, so callers
(timers, the workflow) never handle a local time themselves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


def parse_time_of_day(text: str) -> time:
    """``"09:30"`` → ``time(9, 30)``; raises ValueError on anything else."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as err:
        raise ValueError(f"'{text}' is not a time of day: write it as HH:MM, e.g. 09:30") from err


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``zone``, as UTC.

    A wall time skipped by a DST jump (02:30 on a spring-forward night) lands just after
    the jump, at 03:30; a repeated one (autumn) means its first occurrence (PEP 495,
    ``fold=0``).
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_local_time(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first moment strictly after ``now`` whose wall clock in ``zone`` reads ``at``."""
    # Start a day early: yesterday's time, if skipped by a jump at midnight, may land today.
    day = now.astimezone(zone).date() - ONE_DAY
    while True:
        moment = local_moment(day, at, zone)
        if moment > now:
            return moment
        day += ONE_DAY


def shift(moment: datetime, offset: timedelta, zone: ZoneInfo, *, calendar: bool) -> datetime:
    """``moment`` plus ``offset``, on the local calendar or as elapsed time.

    ``calendar`` (an offset written in days or weeks, ``-30d``, ``1w``): whole days move
    along the calendar in ``zone``, so ``-30d`` from 10:00 is 10:00 thirty days earlier even
    across a DST change (plain UTC arithmetic would give 09:00 or 11:00); a remainder below
    a day, which a written offset never has, is elapsed time. Not ``calendar`` (written in
    ``h``, ``m`` or ``s``): elapsed time, so ``48h`` is 48 real hours, 47 or 49 on the
    wall clock across a DST change.
    """
    if not calendar:
        return moment.astimezone(UTC) + offset
    sign = -1 if offset < timedelta(0) else 1
    days, rest = divmod(abs(offset), ONE_DAY)
    if days == 0:  # no calendar part: keep the exact instant (matters in a repeated hour)
        return moment.astimezone(UTC) + sign * rest
    wall = moment.astimezone(zone).replace(tzinfo=None) + sign * days * ONE_DAY
    return wall.replace(tzinfo=zone).astimezone(UTC) + sign * rest


def is_whole_days(offset: timedelta) -> bool:
    """The guess for an offset whose unit is unknown: whole days are calendar days."""
    return offset % ONE_DAY == timedelta(0)


def to_moment(value: Any, zone: ZoneInfo, at: time | None = None) -> datetime:
    """An ``at:`` expression's value as a UTC moment.

    ``value`` is a datetime, a date, or ISO text; a naive datetime is wall-clock time in
    ``zone`` and a bare date means its start. With ``at``, the moment is ``at`` on the
    value's local date.
    """
    if isinstance(value, str):
        value = _parse_iso(value)
    if isinstance(value, datetime):
        local = value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)
        return local.astimezone(UTC) if at is None else local_moment(local.date(), at, zone)
    if isinstance(value, date):
        return local_moment(value, at or time(0), zone)
    raise ValueError(f"{value!r} is not a date or a date and time")


def _parse_iso(text: str) -> date | datetime:
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValueError(
            f"'{text}' is not an ISO date or date and time (e.g. 2026-03-31 or 2026-03-31T09:00)"
        ) from err
    return parsed.date() if len(text) <= 10 else parsed
