"""What the system remembers about customer activity: the event log and the audience
entries that keep a scheduled scenario from starting twice for the same occasion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from journeys.model.events import Event
from journeys.store.tables import UTCDateTime, timestamp_field


class EventRecord(SQLModel, table=True):
    """One customer event as received; ``id`` is the event id (client-supplied or
    generated), so the same event stored twice is one row."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_time", "customer_id", "occurred_at"),
        Index("ix_events_routed", "routed_at"),
        Index("ix_events_failed", "failed_at"),
    )

    id: str = Field(primary_key=True)
    customer_id: str
    name: str
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = timestamp_field()
    # None until routed to the journeys (the relay retries what stays None).
    routed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A router's lease: until then, no other router takes the event (journeys.temporal.relay).
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = None
    # Set when Temporal refused the event for good (too large for it): the relay stops
    # retrying it and goes on with the customer's later events (``journeys events failed``).
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failure: str | None = None

    def event(self) -> Event:
        return Event(
            id=self.id,
            name=self.name,
            customer_id=self.customer_id,
            properties=dict(self.properties or {}),
            occurred_at=self.occurred_at,
        )


class AudienceEntry(SQLModel, table=True):
    """A customer a scheduled scenario's audience scan picked, for one occasion.

    ``occasion`` names what the journey is about (the birthday date, the expiry date of
    the points, the scan's own time), so scans that run every hour start the customer's
    journey once per occasion: the unique (scenario, customer, occasion) says so on every
    database. ``event_id`` is the trigger event's id, derived from the three.
    """

    __tablename__ = "audience_entries"
    __table_args__ = (
        UniqueConstraint(
            "scenario_id", "customer_id", "occasion", name="uq_audience_entries_occasion"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    scenario_id: str
    customer_id: str
    occasion: str
    event_id: str
    created_at: datetime = timestamp_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def derived_event(
    event_id: str, customer_id: str, name: str, properties: dict[str, Any], at: datetime
) -> EventRecord:
    """An event the system derives (a tier or segment change), stored unrouted in the
    transaction of the change itself, for ``journeys.temporal.relay`` to route."""
    return EventRecord(
        id=event_id, customer_id=customer_id, name=name, properties=properties, occurred_at=at
    )


class JourneyFact(SQLModel, table=True):
    """What a journey did, as it happened: the facts funnels count.

    ``kind``: ``entered``, ``waiting`` (at a wait step: ``step_id``), ``goal``, and one end,
    ``completed`` or ``exited`` (``detail``: the exit event or the reason). One row per
    (workflow, entry, kind, step): the local activity that writes it may run twice.
    """

    __tablename__ = "journey_facts"
    __table_args__ = (
        UniqueConstraint("workflow_id", "entry_id", "kind", "step_id", name="uq_journey_facts"),
        Index("ix_journey_facts_scenario", "scenario_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str
    entry_id: str
    scenario_id: str
    customer_id: str
    kind: str
    step_id: str = ""
    detail: str = ""
    at: datetime = Field(sa_type=UTCDateTime)  # the journey's clock
