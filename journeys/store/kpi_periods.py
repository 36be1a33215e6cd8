"""The period of a KPI report and its series buckets, and the SQL that files a moment in one.

A series bucket is a calendar day, ISO week (from Monday) or month in UTC, clipped to the
period: ``2026-11-15`` to ``2027-01-01`` by month is 15-30 November, then December. Each
bucket is named by the calendar start of its unit (``2026-11-01`` for the first one
here), and the database computes that name for every purchase, ledger entry and answer
(``date_trunc`` on PostgreSQL, ``date``/``strftime`` on SQLite), so one ``GROUP BY``
fills every bucket: no query per bucket, and no join of rows against a list of ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, literal

Interval = Literal["day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month")
# More buckets than a chart can show is a mistake (a daily series over ten years); the
# bound also keeps a fuzzed request from asking for a million of them.
MAX_BUCKETS = 1000
# The name of the one bucket of a report without a series, and of "joined before it began".
WHOLE = "whole"
BEFORE = "before"


class KpiInputError(ValueError):
    """A period or series that cannot be reported; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Bucket:
    key: str  # the calendar start of its unit, YYYY-MM-DD (``WHOLE`` without a series)
    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86_400


def check_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period in UTC; a naive moment or an empty period is refused."""
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None:
            raise KpiInputError(name, f"{name} {moment.isoformat()} has no time zone")
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if since >= until:
        raise KpiInputError(
            "until", f"until ({until.isoformat()}) must be after since ({since.isoformat()})"
        )
    return since, until


def buckets(since: datetime, until: datetime, interval: Interval) -> list[Bucket]:
    """The series buckets of [since, until), at most ``MAX_BUCKETS``, else ``KpiInputError``."""
    if interval not in INTERVALS:
        raise KpiInputError("series", f"series must be one of {', '.join(INTERVALS)}")
    since, until = check_period(since, until)
    out: list[Bucket] = []
    start = since
    while start < until:
        if len(out) == MAX_BUCKETS:
            raise KpiInputError(
                "series",
                f"a {interval} series of this period has more than {MAX_BUCKETS} buckets: "
                "choose a longer interval or a shorter period",
            )
        unit = _unit_start(start, interval)
        end = min(_next_unit(unit, interval), until)
        out.append(Bucket(unit.date().isoformat(), start, end))
        start = end
    return out


def _unit_start(moment: datetime, interval: Interval) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_unit(unit: datetime, interval: Interval) -> datetime:
    if interval == "day":
        return unit + timedelta(days=1)
    if interval == "week":
        return unit + timedelta(days=7)
    return unit.replace(year=unit.year + unit.month // 12, month=unit.month % 12 + 1)


def bucket_key(moment: Any, interval: Interval | None, dialect: str) -> Any:
    """SQL naming the bucket a stored UTC moment falls in, as ``Bucket.key`` names it."""
    if interval is None:
        return literal(WHOLE)
    if dialect == "postgresql":
        utc = func.timezone("UTC", moment)  # timestamptz -> the UTC wall clock
        return func.to_char(func.date_trunc(interval, utc), "YYYY-MM-DD")
    # SQLite keeps UTC text (``2026-11-05 10:00:00.000000``), which its date functions read.
    if interval == "week":
        return func.date(moment, "-6 days", "weekday 1")  # back to the Monday on or before
    if interval == "month":
        return func.strftime("%Y-%m-01", moment)
    return func.date(moment)
