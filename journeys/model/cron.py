"""Cron lines as Temporal Schedules read them, checked before a schedule is made.

Temporal refuses a line such as ``99 99 * * *`` only when the worker creates the schedule
(the worker then stops at start), and accepts lines that never fire (``0 0 31 2 *``) or
that mean something else than they seem (``1#2`` is read as "every Monday" with a comment
"2"; a weekday range ending at 7 leaves Sunday out). Cron libraries do not help: classic
cron fires when the day of the month *or* the weekday matches, Temporal when both do
(``0 9 13 * 5`` is Friday the 13th). So this module accepts the plain subset whose
meaning is the same everywhere, with Temporal's rule, and says why a line is refused.

Checked against the real server by ``tests/model/test_cron.py``. Pure code.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import pairwise

_FIELDS = (  # name, lowest, highest
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {m: i for i, m in enumerate(_MONTHS, 1)},
    {d: i for i, d in enumerate(_WEEKDAYS)},
)
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")
# Weekdays repeat every 28 years between 1901 and 2099: every date a line can name is met.
_CYCLE_START, _CYCLE_END = date(2001, 1, 1), date(2028, 12, 31)
# The rarest date is 29 February; a line firing less often is a typo, not a schedule.
MAX_GAP = timedelta(days=4 * 365 + 1)


def cron_problem(line: str) -> str | None:
    """Why Temporal would refuse ``line``, or it would (nearly) never fire; None if fine."""
    fields = line.split()
    if len(fields) != len(_FIELDS):
        return f"'{line}' is not a cron line: five fields, minute hour day month weekday"
    values: list[set[int]] = []
    for index, text in enumerate(fields):
        found = _field(text.lower(), index)
        if isinstance(found, str):
            return f"'{line}' is not a cron line Temporal can run: {found}"
        values.append(found)
    days = _firing_days(values[2], values[3], {d % 7 for d in values[4]})
    if not days:
        return f"'{line}' never fires: no date has that day of month, month and weekday"
    gaps = [b - a for a, b in pairwise(days)]
    gaps.append(days[0] + (_CYCLE_END - _CYCLE_START + timedelta(days=1)) - days[-1])
    if max(gaps) > MAX_GAP:
        return (
            f"'{line}' fires less than once every four years (both the day of month and the "
            "weekday must match)"
        )
    return None


def _field(text: str, index: int) -> set[int] | str:
    """The values a field stands for, or why it cannot be read."""
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            return (
                f"{name} '{text}' is not a number, a range (1-5), a list (1,15), '*' or a "
                "step (*/15)"
            )
        star, first, last, step = match.groups()
        start = low if star else _number(first, index)
        end = high if star else (_number(last, index) if last else None)
        if isinstance(start, str) or isinstance(end, str):
            return f"{name} '{item}': {start if isinstance(start, str) else end}"
        if end is None:
            end = high if step else start
        if not (low <= start <= high and low <= end <= high):
            return f"{name} '{item}' is outside {low}-{high}"
        if start > end:
            return f"{name} '{item}' runs backwards: write the lower value first"
        if index == 4 and end == 7 and start != 7 and not star:
            return f"weekday '{item}': Sunday is 0 in a range (0-6); 7 is Sunday only alone"
        if step is not None and int(step) == 0:
            return f"{name} '{item}' has a step of 0"
        values.update(range(start, end + 1, int(step or 1)))
    return values


def _number(text: str, index: int) -> int | str:
    if text.isdigit():
        return int(text)
    named = _NAMES[index].get(text)
    if named is None:
        return "not a number" + (" or a three-letter name" if _NAMES[index] else "")
    return named


def _firing_days(days: set[int], months: set[int], weekdays: set[int]) -> list[date]:
    """The dates of one 28-year cycle on which the line fires (weekday 0 is Sunday)."""
    found, day = [], _CYCLE_START
    while day <= _CYCLE_END:
        if day.month in months and day.day in days and (day.isoweekday() % 7) in weekdays:
            found.append(day)
        day += timedelta(days=1)
    return found
