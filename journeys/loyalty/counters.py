"""Counter rules from ``loyalty.yaml``: which event each named counter counts, over what window.

Counters are declared in the program, not in a journey, so every event counts whatever
journeys are running: a count kept by a journey step would miss the events that arrive
while that journey is busy, or that its re-entry policy ignores. The counting itself is
``journeys.store.counters``; the router counts an event before it reaches any journey.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from journeys.model.durations import Duration
from journeys.model.limits import longer_than_zero, within_max_wait

# A counter is read as ``counters.<name>`` in Jinja: a plain lower-case identifier.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# An event name as the API accepts it (``journeys.api.fields.EventName``).
_EVENT = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def _counter_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"counter name '{value}' must be lower-case letters, digits and _, starting with "
            "a letter, at most 64 characters (it is read as counters.<name>)"
        )
    if hasattr(dict, value):  # Jinja reads counters.items as the mapping's method
        raise ValueError(f"counter name '{value}' is taken: counters.{value} is a method")
    return value


def _event_name(value: str) -> str:
    if not _EVENT.match(value):
        raise ValueError(
            f"'{value}' is not an event name (letters, digits and . _ : -, 1-100 characters)"
        )
    return value


CounterName = Annotated[str, AfterValidator(_counter_name)]
# Above zero and at most ten years, said as loyalty.yaml's other windows say it.
Window = Annotated[Duration, longer_than_zero(say_value=False), AfterValidator(within_max_wait)]


class CounterRule(BaseModel):
    """``{event: store.visit}`` counts every such event ever; ``window: 30d`` counts those
    that occurred in the 30 days up to the moment asked (a rolling window)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Annotated[str, AfterValidator(_event_name)]
    window: Window | None = None


def counted_by(rules: Mapping[str, CounterRule], event_name: str) -> list[str]:
    """The counters an event of this name counts toward, in name order."""
    return sorted(name for name, rule in rules.items() if rule.event == event_name)
