"""Counting events per customer, once per event id and one at a time per customer.

``count`` is what the router calls before an event reaches its journeys. Three rules make a
count trustworthy:

* **Once per event id.** (customer, counter, event id) is unique: an event routed again (a
  relay retry, a client retrying ``POST /v1/events``, two routers) returns the ordinal
  stored the first time and changes nothing.
* **Serialised per customer.** The customer row is locked (``FOR UPDATE``) before reading
  the count, so two events of one customer counted at the same instant on PostgreSQL get
  distinct ordinals (10 and 11, never 11 twice). On SQLite the in-process writer lock of
  ``Database.session`` serialises every transaction already.
* **The ordinal is stored.** A journey started by the 10th visit reads 10 whenever it
  asks, however many visits were counted since.

A windowed counter (``window: 30d``) counts the events that occurred in the window ending at
the moment asked: for an event, its ``occurred_at`` (what the app says, else when it was
routed). The events counted since, but that occurred earlier, are in it too: late events
never give two events the same ordinal while all of them are inside the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.loyalty.counters import CounterRule, counted_by
from journeys.model.events import Event
from journeys.process.clock import utcnow
from journeys.store.counter_tables import CountedEvent
from journeys.store.engine import Database
from journeys.store.tables import Customer

_RETRIES = 3  # a unique-key conflict is a racing first insert of the customer or the event


class Counters:
    def __init__(self, database: Database) -> None:
        self._database = database

    def count(self, event: Event, rules: Mapping[str, CounterRule]) -> dict[str, int]:
        """Counts ``event`` toward the counters of its name; returns every counter's value
        as of this event (the counted ones: their ordinal, this event included)."""
        names = counted_by(rules, event.name)
        occurred = _utc(event.occurred_at or utcnow())
        for _ in range(_RETRIES):
            with self._database.session() as session:
                try:
                    _lock_customer(session, event.customer_id)
                    values = self._count(session, event, occurred, names, rules)
                    session.commit()
                    return values
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"counting event '{event.id}' kept conflicting with other writers")

    def _count(
        self,
        session: Session,
        event: Event,
        occurred: datetime,
        names: list[str],
        rules: Mapping[str, CounterRule],
    ) -> dict[str, int]:
        query = select(CountedEvent).where(
            CountedEvent.customer_id == event.customer_id,
            CountedEvent.event_id == event.id,
            col(CountedEvent.counter).in_(names),
        )
        stored = {row.counter: row.ordinal for row in session.exec(query).all()}
        values: dict[str, int] = {}
        for name in sorted(rules):
            if name in stored:
                values[name] = stored[name]
                continue
            value = _window_count(session, event.customer_id, name, rules[name], occurred)
            if name in names:
                value += 1
                session.add(
                    CountedEvent(
                        customer_id=event.customer_id,
                        counter=name,
                        event_id=event.id,
                        occurred_at=occurred,
                        ordinal=value,
                    )
                )
            values[name] = value
        session.flush()  # a racing duplicate fails here, inside the retry
        return values

    def current(
        self, customer_id: str, rules: Mapping[str, CounterRule], at: datetime
    ) -> dict[str, int]:
        """Every counter's value for the customer as of ``at`` (one query per counter)."""
        if not rules:
            return {}
        at = _utc(at)
        with self._database.session() as session:
            return {
                name: _window_count(session, customer_id, name, rules[name], at)
                for name in sorted(rules)
            }

    def view(
        self,
        customer_id: str,
        rules: Mapping[str, CounterRule],
        at: datetime,
        carried: Mapping[str, int],
    ) -> dict[str, int]:
        """What a journey sees as ``counters``: those its trigger event carried (the count
        as of that event), the others read as of ``at``; no query when it carries them all."""
        missing = {name: rule for name, rule in rules.items() if name not in carried}
        return {**self.current(customer_id, missing, at), **carried}

    def counted(self, customer_id: str, counter: str) -> list[CountedEvent]:
        """The events counted toward a counter, in counting order (tests, support)."""
        with self._database.session() as session:
            query = select(CountedEvent).where(
                CountedEvent.customer_id == customer_id, CountedEvent.counter == counter
            )
            return list(session.exec(query.order_by(col(CountedEvent.id))).all())


def _lock_customer(session: Session, customer_id: str) -> None:
    """Locks the customer row (created when missing), so one customer's counting is one at
    a time. A racing creation of the same row is an IntegrityError: the caller retries."""
    if session.get(Customer, customer_id, with_for_update=True) is None:
        session.add(Customer(id=customer_id))
        session.flush()


def _window_count(
    session: Session, customer_id: str, name: str, rule: CounterRule, at: datetime
) -> int:
    query = select(func.count()).where(
        CountedEvent.customer_id == customer_id, CountedEvent.counter == name
    )
    if rule.window is not None:
        query = query.where(col(CountedEvent.occurred_at) > at - rule.window)
    return int(session.exec(query).one())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
