"""SQL for the audience filters on attributes, event history and date attributes.

Attributes live in one JSON column; SQLite reads them with ``json_type``/``json_extract``,
PostgreSQL with ``json_typeof``/``->>``. Both are asked the value's JSON type first, so a
comparison means the same on both: a number compares as a number (never as text, where
"10" < "9"), and text that is a plain decimal number counts as a number too, because CSV
imports store every column as text. A value of another type simply does not match; no
cast is ever attempted on text that is not a number (PostgreSQL would fail the query).

Event history is a correlated ``EXISTS``/``COUNT`` on ``events``, which
``ix_events_customer_time (customer_id, occurred_at)`` answers: one index range per
customer of the page, the window's events only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Numeric, and_, case, cast, exists, false, func, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from journeys.model.audience_filters import PROFILE_COLUMNS, AttributeFilter, EventFilter
from journeys.store.tables import Customer
from journeys.store.tracking_tables import EventRecord

# A plain decimal number written as text: "12", "-3", "4.5".
_PG_NUMBER = r"^-?[0-9]+(\.[0-9]*)?$"


class _JsonValue:
    """One attribute of ``customers.attributes``: its JSON type and its value, per dialect."""

    def __init__(self, name: str, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        attributes = col(Customer.attributes)
        if self.postgres:
            self.kind: ColumnElement[Any] = func.json_typeof(attributes.op("->")(name))
            self.text: ColumnElement[Any] = attributes.op("->>")(name)
            self.number_kinds, self.text_kind = ("number",), "string"
        else:
            path = f"$.{name}"  # the name is an identifier (journeys.model.audience_filters)
            self.kind = func.json_type(attributes, path)
            self.text = func.json_extract(attributes, path)
            self.number_kinds, self.text_kind = ("integer", "real"), "text"

    def is_text(self) -> ColumnElement[bool]:
        return self.kind == self.text_kind

    def number(self) -> ColumnElement[Any]:
        """The value as a number, or NULL when it is neither a number nor a number's text."""
        if self.postgres:
            numeric_text = func.btrim(self.text).op("~")(_PG_NUMBER)
        else:
            numeric_text = _sqlite_numeric_text(func.trim(self.text))
        return case(
            (self.kind.in_(self.number_kinds), cast(self.text, Numeric)),
            (and_(self.is_text(), numeric_text), cast(func.trim(self.text), Numeric)),
        )

    def boolean_is(self, value: bool) -> ColumnElement[bool]:
        word = "true" if value else "false"
        if self.postgres:
            json_boolean = and_(self.kind == "boolean", self.text == word)
        else:
            json_boolean = self.kind == word
        return or_(json_boolean, and_(self.is_text(), func.lower(func.trim(self.text)) == word))

    def present(self) -> ColumnElement[bool]:
        return and_(self.kind.is_not(None), self.kind != "null")


def _sqlite_numeric_text(text: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQLite has no regular expressions: a digit first (after an optional '-'), then only
    digits and at most one '.'."""
    return and_(
        or_(text.op("GLOB")("[0-9]*"), text.op("GLOB")("-[0-9]*")),
        not_(func.substr(text, 2).op("GLOB")("*[^0-9.]*")),
        func.length(text) - func.length(func.replace(text, ".", "")) <= 1,
    )


def attribute_clause(rule: AttributeFilter, dialect: str) -> ColumnElement[bool]:
    if rule.name in PROFILE_COLUMNS:
        return _profile_clause(rule)
    value = _JsonValue(rule.name, dialect)
    if rule.op == "exists":
        return value.present() if rule.value else not_(value.present())
    if rule.op == "at_least":
        return value.number() >= rule.value
    if rule.op == "at_most":
        return value.number() <= rule.value
    if rule.op == "in":
        return or_(*(_equals(value, item) for item in rule.value))
    if rule.op == "not":  # missing, null or another value
        return not_(func.coalesce(_equals(value, rule.value), false()))
    return _equals(value, rule.value)


def _equals(value: _JsonValue, wanted: Any) -> ColumnElement[bool]:
    if isinstance(wanted, bool):
        return value.boolean_is(wanted)
    if isinstance(wanted, int | float):
        return value.number() == wanted
    return and_(value.is_text(), value.text == wanted)


def _profile_clause(rule: AttributeFilter) -> ColumnElement[bool]:
    column = getattr(Customer, rule.name)
    if rule.op == "exists":
        present = and_(column.is_not(None), column != "")
        return present if rule.value else not_(present)
    if rule.op == "in":
        return column.in_([str(item) for item in rule.value])
    if rule.op == "not":
        return or_(column.is_(None), column != str(rule.value))
    return column == str(rule.value)


def event_clause(rule: EventFilter, at: datetime) -> ColumnElement[bool]:
    """Events named ``rule.name`` with ``at - within <= occurred_at <= at``: both edges in,
    and nothing after the scan's moment (a scan evaluated as of a past date ignores later
    events)."""
    window = (
        EventRecord.customer_id == Customer.id,
        EventRecord.name == rule.name,
        col(EventRecord.occurred_at) >= at - rule.within,
        col(EventRecord.occurred_at) <= at,
    )
    if rule.none:
        return not_(exists().where(*window))
    if rule.at_most is None and (rule.at_least or 1) == 1:
        return exists().where(*window)
    count = select(func.count()).select_from(EventRecord).where(*window).scalar_subquery()
    checks = []
    if rule.at_least is not None:
        checks.append(count >= rule.at_least)
    if rule.at_most is not None:
        checks.append(count <= rule.at_most)
    return and_(*checks)


def date_attribute_clause(name: str, day: date, dialect: str) -> ColumnElement[bool]:
    """The attribute holds ``day`` as ``YYYY-MM-DD`` text (an indexed zone group picks the
    customers whose today is ``day - days_before``)."""
    value = _JsonValue(name, dialect)
    return and_(value.is_text(), func.trim(value.text) == day.isoformat())
