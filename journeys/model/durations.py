"""Durations as marketers write them (``30m``, ``1h``, ``2d``, ``1w``, ``-30d``).

Pure code: imported by the scenario model, which runs inside the workflow sandbox.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(-?)\s*(\d+)\s*([smhdw])\s*$")
_MAX_DIGITS = 20  # int() of a long digit string is slow, and no duration needs more


class DurationError(ValueError):
    """A duration a marketer wrote that we cannot read."""


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text)
    if not match:
        raise DurationError(
            f"'{text}' is not a duration: write a whole number and a unit "
            "(s, m, h, d or w), for example 30m, 1h, 2d or 1w"
        )
    sign, amount, unit = match.groups()
    if len(amount) > _MAX_DIGITS:
        raise DurationError(f"'{text.strip()[:40]}' is not a duration: the number is too long")
    try:
        delta = timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:  # beyond timedelta's 999,999,999 days: no date could hold it
        raise DurationError(f"'{text.strip()}' is too long a duration to mean anything") from None
    return -delta if sign else delta


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling, so snapshots and timelines read like the source file."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{sign}{seconds // size}{unit}"
    return f"{sign}{seconds}s"


def _coerce(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise DurationError(f"{value!r} is not a duration: write it as text such as 30m, 1h or 2d")


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
]
"""A timedelta that reads and writes the marketer's spelling (also in workflow payloads)."""
