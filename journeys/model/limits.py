"""How far a scenario may reach: the longest wait, a schedule's range, the largest points change.

A typo of a few digits (``wait: 999999999d``, ``points: 99999999999999999999``) must not
park a journey for millennia, overflow a date, or reach the store as a number its column
cannot hold. One table of bounds, used by ``journeys validate`` (with file:line), by the
scenario registry, by the activities and by the interpreter at run time, so a scenario
meets the same bound whichever way it reached a worker. The duration validators below
serve both the scenario model and ``loyalty.yaml``.

Pure code: imported by the scenario model, inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

from journeys.model.durations import Duration, format_duration

# Ten years (leap days included): far beyond any loyalty occasion (a points expiry of two or
# three years, a yearly anniversary), far below where dates overflow (year 9999) or where
# Temporal refuses a timer (10,000 years).
MAX_WAIT = timedelta(days=3653)
# An audience scan reads the whole audience: more often than each minute, runs would overlap
# and be skipped; less often than once a year is not a schedule, it is a date.
MIN_EVERY = timedelta(minutes=1)
MAX_EVERY = timedelta(days=366)
# One update step's points, up or down. The wallet's columns are 32-bit on PostgreSQL
# (±2,147,483,647); ten million per award is far above any real award and leaves the
# balance, a sum of lots, far from that limit.
MAX_POINTS = 10_000_000

AUTHORING = {"journeys.model.limits": True}
"""Validation context of scenarios read from files (see ``enforced``)."""


def enforced(context: object) -> bool:
    """Are the bounds checked while this model is validated?

    Yes when a scenario is read from a file or admitted by the registry. No when a running
    journey's input is decoded: a decoding error there would fail the workflow task again
    and again; the interpreter checks the same bounds at the step instead, and records the
    step's failure.
    """
    return isinstance(context, dict) and bool(context.get("journeys.model.limits"))


def wait_problem(what: str, value: timedelta) -> str | None:
    """Why ``value`` is too long for a wait, a timeout, a window or a re-entry period."""
    if abs(value) > MAX_WAIT:
        either_way = " either way" if value < timedelta(0) else ""
        return (
            f"'{what}' must be at most {format_duration(MAX_WAIT)} (10 years){either_way}, "
            f"not {format_duration(value)}"
        )
    return None


def written_name(info: ValidationInfo) -> str:
    """A duration field as the marketer wrote it: a wait step's ``duration`` is ``wait: 1h``."""
    return "wait" if info.field_name == "duration" else str(info.field_name)


def longer_than_zero(*, say_value: bool = True) -> AfterValidator:
    """Refuses a zero or negative duration, whatever the context: a wait, timeout, window
    or expiry of zero is always a typo, never an intent. ``say_value`` adds what was
    written, as scenarios do ("(got -3d)"); ``loyalty.yaml`` has always said it without."""

    def check(value: timedelta, info: ValidationInfo) -> timedelta:
        if value <= timedelta(0):
            written = f" (got {format_duration(value)})" if say_value else ""
            raise ValueError(f"'{written_name(info)}' must be longer than zero{written}")
        return value

    return AfterValidator(check)


def within_max_wait(value: timedelta, info: ValidationInfo) -> timedelta:
    """At most ``MAX_WAIT`` either way, where the bounds are ``enforced``."""
    if enforced(info.context) and (problem := wait_problem(written_name(info), value)):
        raise ValueError(problem)
    return value


# A duration of at most ten years either way (an offset), and one that is also above zero
# (a wait, a timeout, a window): the scenario's and loyalty.yaml's durations.
BoundedDuration = Annotated[Duration, AfterValidator(within_max_wait)]
PositiveDuration = Annotated[Duration, longer_than_zero(), AfterValidator(within_max_wait)]


def every_problem(value: timedelta) -> str | None:
    if not MIN_EVERY <= value <= MAX_EVERY:
        return (
            f"'every' must be between {format_duration(MIN_EVERY)} and "
            f"{format_duration(MAX_EVERY)} (a year), not {format_duration(value)}"
        )
    return None


def points_problem(value: int) -> str | None:
    if abs(value) > MAX_POINTS:
        return f"points must be between -{MAX_POINTS:,} and {MAX_POINTS:,}, not {value:,}"
    return None
