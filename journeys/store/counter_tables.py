"""The counter and badge tables: each counted event once, with its ordinal; badges held.

``counted_events`` keeps one row per (customer, counter, event id): the unique key is what
makes counting idempotent, so an event routed twice (a relay retry, two routers) counts
once. The ``ordinal`` stored with it is the count *including this event* when it was
counted, so a journey started by the 10th visit reads 10 whenever it asks, even after an
11th visit. Old rows of windowed counters stay: they are the audit of what was counted.

``badges`` holds a named badge once per customer; ``source_ref`` (the awarding step's
key) is unique too, so a retried award finds its own row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from journeys.store.tables import UTCDateTime, timestamp_field


class CountedEvent(SQLModel, table=True):
    """One event counted toward one counter of one customer."""

    __tablename__ = "counted_events"
    __table_args__ = (
        UniqueConstraint("customer_id", "counter", "event_id", name="uq_counted_event"),
        Index("ix_counted_events_window", "customer_id", "counter", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str
    counter: str
    event_id: str
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    ordinal: int
    counted_at: datetime = timestamp_field()


class Badge(SQLModel, table=True):
    """A badge a customer holds, from the step that awarded it first."""

    __tablename__ = "badges"
    __table_args__ = (UniqueConstraint("customer_id", "badge", name="uq_badge_holder"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True)
    badge: str
    source_ref: str = Field(unique=True)
    awarded_at: datetime = Field(sa_type=UTCDateTime)
