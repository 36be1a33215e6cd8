"""The richer audience filters: any profile attribute, event history, a date attribute, and
the moment of a one-off broadcast.

A marketer writes ``{name: city, equals: Paris}`` or ``{name: purchase, within: 90d,
at_least: 2}``; the models keep one normalized shape (``op`` and ``value``) so that a
snapshot dumped into a workflow input reads back the same, with no aliases for the Python
keywords ``in`` and ``not``. Types are checked here, where the file's line is known: a
number compared with ``at_least`` must be a number, so a typo never turns into a silent
text comparison in SQL.

Pure code: imported by the scenario model, inside the workflow sandbox.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeys.model.limits import PositiveDuration

AttributeOp = Literal["equals", "not", "in", "at_least", "at_most", "exists"]
ATTRIBUTE_OPS: tuple[str, ...] = ("equals", "not", "in", "at_least", "at_most", "exists")
# Profile columns an attribute filter may read besides the free attributes (all text).
PROFILE_COLUMNS = ("locale", "time_zone", "email", "phone", "push_token")
# Attribute names become JSON paths in SQL: identifiers only, so no quoting games.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# RFC 3339 to the second, with an offset: "2027-03-03T18:00:00Z", "...T19:00:00+01:00".
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$")
MAX_DAYS_BEFORE = 3653  # the ten years of journeys.model.limits.MAX_WAIT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


def _attribute_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"attribute name {name!r} must be a plain name (letters, digits, '_'), "
            "as in customer.<name>"
        )
    return name


class AttributeFilter(_Strict):
    """One test on a customer attribute (or a text profile field such as ``locale``).

    ``equals``, ``not`` and ``in`` compare with the type written: a number matches a JSON
    number or text that is a plain number (CSV columns arrive as text), ``true``/``false``
    match a JSON boolean or the text ``true``/``false``, text matches text. ``not`` also
    picks customers without the attribute. ``at_least``/``at_most`` compare numbers.
    """

    name: str
    op: AttributeOp
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _written(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "op" in data:
            return data
        name = _attribute_name(data.get("name"))
        ops = [key for key in data if key != "name"]
        unknown = [key for key in ops if key not in ATTRIBUTE_OPS]
        if unknown:
            raise ValueError(
                f"attribute filter '{name}': unknown operator '{unknown[0]}' "
                f"(use one of {', '.join(ATTRIBUTE_OPS)})"
            )
        if len(ops) != 1:
            raise ValueError(
                f"attribute filter '{name}' needs exactly one operator "
                f"({', '.join(ATTRIBUTE_OPS)}), not {len(ops)}: write two filters to combine"
            )
        op = ops[0]
        return {"name": name, "op": op, "value": _operand(name, op, data[op])}

    @model_validator(mode="after")
    def _profile_field(self) -> AttributeFilter:
        _attribute_name(self.name)
        if self.name in ("birthday", "consent"):
            raise ValueError(
                f"'{self.name}' cannot be filtered here: use 'birthday: today' for birthdays "
                "and leave consent to the send step"
            )
        if self.name in PROFILE_COLUMNS:
            values = self.value if self.op == "in" else [self.value]
            if self.op in ("at_least", "at_most") or (
                self.op != "exists" and not all(isinstance(v, str) for v in values)
            ):
                raise ValueError(
                    f"'{self.name}' is a text profile field: compare it with text "
                    "(equals, not, in) or test exists"
                )
        return self


def _operand(name: str, op: str, value: Any) -> Any:
    where = f"attribute filter '{name}' {op}"
    if op in ("at_least", "at_most"):
        if not _is_number(value):
            raise ValueError(f"{where}: {value!r} is not a number, and only numbers compare")
    elif op == "exists":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: write true or false, not {value!r}")
    elif op == "in":
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: write a list of values, e.g. [Paris, Lyon]")
        if not all(_is_scalar(item) for item in value):
            raise ValueError(f"{where}: each value must be text, a number, true or false")
    elif not _is_scalar(value):
        raise ValueError(f"{where}: {value!r} must be text, a number, true or false")
    return value


class EventFilter(_Strict):
    """How often the customer sent an event in the window before the scan's moment:
    ``at_least`` (1 when nothing else is written), ``at_most``, or ``none: true``."""

    name: str = Field(min_length=1)
    within: PositiveDuration
    at_least: int | None = Field(default=None, ge=1)
    at_most: int | None = Field(default=None, ge=0)
    none: bool = False

    @model_validator(mode="before")
    @classmethod
    def _counts(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("at_least", "at_most"):
                value = data.get(key)
                if value is not None and (not _is_number(value) or value != int(value)):
                    raise ValueError(
                        f"event filter '{data.get('name')}' {key}: {value!r} is not a "
                        "whole number of events"
                    )
            if "none" in data and not isinstance(data["none"], bool):
                raise ValueError(f"event filter '{data.get('name')}' none: write true")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> EventFilter:
        if self.none and (self.at_least is not None or self.at_most is not None):
            raise ValueError(
                f"event filter '{self.name}': 'none: true' excludes at_least and at_most"
            )
        if self.at_least is not None and self.at_most is not None and self.at_most < self.at_least:
            raise ValueError(
                f"event filter '{self.name}': at_most {self.at_most} is below at_least "
                f"{self.at_least}, so nobody matches"
            )
        return self


class DateAttributeFilter(_Strict):
    """Customers whose attribute holds a date (``YYYY-MM-DD``) exactly ``days_before`` days
    after today in their own time zone: the renewal reminder's audience. The journey is about
    that date, so a daily scan starts one journey per renewal."""

    name: str
    days_before: int = Field(ge=0, le=MAX_DAYS_BEFORE)

    @model_validator(mode="before")
    @classmethod
    def _whole_days(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _attribute_name(data.get("name"))
            days = data.get("days_before")
            if "days_before" in data and (not _is_number(days) or days != int(days)):
                raise ValueError(f"date_attribute days_before: {days!r} is not a whole number")
        return data


def broadcast_moment(value: Any) -> Any:
    """A broadcast's ``at`` as an aware datetime: RFC 3339 text with its offset, never a
    wall-clock time whose zone the worker would have to guess."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"'{value.isoformat()}' has no offset: add Z or +01:00")
        return value
    if not isinstance(value, str) or not _MOMENT.match(value.strip()):
        raise ValueError(
            f"{value!r} is not a moment with an offset: write it as RFC 3339, "
            "e.g. 2027-03-03T18:00:00Z or 2027-03-04T08:00:00+01:00"
        )
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ValueError(f"'{value}' is not a date and time that exists: {err}") from None
