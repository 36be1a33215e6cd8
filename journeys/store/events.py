"""The event log: every event stored once, then claimed, routed to journeys, or set aside.

Routers (the API's relay, the worker's) take pending events under a lease, so two of them
never route the same event at once; an event Temporal refuses for good is set aside as
failed (a dead letter) until an operator retries it, while the customer's later events
are routed meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.model.events import Event
from journeys.process.clock import utcnow
from journeys.store.engine import Database
from journeys.store.tables import Customer
from journeys.store.tracking_tables import EventRecord

# How long a router holds the events it claimed: longer than routing them takes.
LEASE = timedelta(seconds=60)
# Stored, not routed, not set aside: what routers take.
_PENDING = (col(EventRecord.routed_at).is_(None), col(EventRecord.failed_at).is_(None))
_FAILED = (col(EventRecord.routed_at).is_(None), col(EventRecord.failed_at).is_not(None))


class EventLog:
    def __init__(self, database: Database) -> None:
        self._database = database

    def record(self, event: Event) -> bool:
        """Stores an event once per id; False when that id was already stored."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[Event]) -> list[bool]:
        """Stores a batch in one transaction (all or nothing); per event, whether it is new.

        An id already stored (a client's retry) is skipped; the same id twice in the batch is
        stored once. Customers' ``last_seen_at`` moves forward in the same transaction (a
        customer we had never heard of is created), so "inactive for 90 days" is one
        indexed column.
        """
        for _ in range(3):  # a conflict is a racing writer of the same id or new customer
            with self._database.session() as session:
                ids = list({e.id for e in events})
                query = select(EventRecord.id).where(col(EventRecord.id).in_(ids))
                stored = set(session.exec(query).all())
                fresh: dict[str, Event] = {}
                for event in events:
                    if event.id not in stored:
                        fresh.setdefault(event.id, event)
                self._see_customers(session, fresh.values())
                session.add_all(_record(event) for event in fresh.values())
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
            first = set(fresh)
            flags = []
            for event in events:
                flags.append(event.id in first)
                first.discard(event.id)
            return flags
        raise RuntimeError("storing events kept conflicting with other writers")

    @staticmethod
    def _see_customers(session: Session, events: Iterable[Event]) -> None:
        latest: dict[str, datetime] = {}
        for event in events:
            occurred = event.occurred_at or utcnow()
            latest[event.customer_id] = max(occurred, latest.get(event.customer_id, occurred))
        if not latest:
            return
        query = (
            select(Customer)
            .where(col(Customer.id).in_(sorted(latest)))
            .order_by(col(Customer.id))  # one lock order (PostgreSQL): no deadlock
            .with_for_update()
        )
        known = {row.id: row for row in session.exec(query).all()}
        for customer_id, seen in latest.items():
            row = known.get(customer_id) or Customer(id=customer_id)
            if row.last_seen_at is None or row.last_seen_at < seen:
                row.last_seen_at = seen
            session.add(row)

    def recorded(self, event_id: str) -> bool:
        with self._database.session() as session:
            return session.get(EventRecord, event_id) is not None

    def mark_routed(self, *event_ids: str) -> None:
        with self._database.session() as session:
            session.execute(
                update(EventRecord)
                .where(col(EventRecord.id).in_(event_ids))
                .values(routed_at=utcnow())
            )
            session.commit()

    def pending_count(self) -> int:
        with self._database.session() as session:
            return int(session.exec(select(func.count()).where(*_PENDING)).one())

    def pending(self, customer_id: str | None = None, limit: int = 500) -> list[Event]:
        """Stored but not routed yet (and not set aside as failed), oldest first."""
        with self._database.session() as session:
            query = select(EventRecord).where(*_PENDING)
            if customer_id is not None:
                query = query.where(EventRecord.customer_id == customer_id)
            query = query.order_by(col(EventRecord.received_at), col(EventRecord.id)).limit(limit)
            return [record.event() for record in session.exec(query).all()]

    def claim(
        self,
        customer_id: str | None = None,
        limit: int = 500,
        lease: timedelta = LEASE,
        token: str | None = None,
    ) -> list[tuple[Event, datetime]]:
        """Unrouted events no other router holds, now held by the caller for ``lease``, each
        with the moment it was stored (for the routing lag).

        The claim is one conditional UPDATE that stamps the caller's ``token`` (a fresh one
        when None), atomic on every database: two relays (the API's and the worker's, or two
        API processes) never route the same event at once, so a journey that already ended
        cannot be started again by a late second routing. ``release`` takes the same
        token.
        """
        now, token = utcnow(), token or uuid.uuid4().hex
        free = or_(col(EventRecord.claimed_until).is_(None), col(EventRecord.claimed_until) < now)
        with self._database.session() as session:
            query = select(EventRecord.id).where(*_PENDING, free)
            if customer_id is not None:
                query = query.where(EventRecord.customer_id == customer_id)
            query = query.order_by(col(EventRecord.received_at), col(EventRecord.id)).limit(limit)
            candidates = list(session.exec(query).all())
            if not candidates:
                return []
            session.execute(
                update(EventRecord)
                .where(col(EventRecord.id).in_(candidates), *_PENDING, free)
                .values(claimed_until=now + lease, claimed_by=token)
            )
            session.commit()
            mine = select(EventRecord).where(
                col(EventRecord.id).in_(candidates), EventRecord.claimed_by == token
            )
            mine = mine.order_by(col(EventRecord.received_at), col(EventRecord.id))
            return [(record.event(), record.received_at) for record in session.exec(mine).all()]

    def release(self, token: str, *event_ids: str) -> None:
        """Gives events claimed with ``token`` back before their lease ends (routing them
        failed for now): the next pass, of any router, takes them again at once.

        Only those still held under ``token``: when routing outlasted the lease, another
        router may hold them now, and clearing its claim would let a third one route the
        customer's events beside it, out of order.
        """
        if not event_ids:
            return
        with self._database.session() as session:
            session.execute(
                update(EventRecord)
                .where(
                    col(EventRecord.id).in_(event_ids),
                    col(EventRecord.routed_at).is_(None),
                    EventRecord.claimed_by == token,
                )
                .values(claimed_until=None, claimed_by=None)
            )
            session.commit()

    # Dead letters: events Temporal refused for good ------------------------------------

    def mark_failed(self, failures: Mapping[str, str]) -> None:
        """Sets events aside with the reason Temporal gave: no router takes them again
        until ``retry_failed``; the customer's later events are routed meanwhile."""
        now = utcnow()
        with self._database.session() as session:
            for event_id, reason in failures.items():
                session.execute(
                    update(EventRecord)
                    .where(EventRecord.id == event_id, col(EventRecord.routed_at).is_(None))
                    .values(failed_at=now, failure=reason[:2000], claimed_until=None)
                )
            session.commit()

    def failed(self, limit: int = 500) -> list[EventRecord]:
        """Set aside, oldest first."""
        with self._database.session() as session:
            query = select(EventRecord).where(*_FAILED)
            query = query.order_by(col(EventRecord.failed_at), col(EventRecord.id)).limit(limit)
            return list(session.exec(query).all())

    def failed_count(self) -> int:
        with self._database.session() as session:
            return int(session.exec(select(func.count()).where(*_FAILED)).one())

    def retry_failed(self, event_ids: Sequence[str] | None = None) -> int:
        """Puts failed events (these, or all when None) back to pending; returns how many.
        They are routed after the customer's events received since: order is by arrival."""
        with self._database.session() as session:
            query = update(EventRecord).where(*_FAILED)
            if event_ids is not None:
                query = query.where(col(EventRecord.id).in_(event_ids))
            result = session.execute(query.values(failed_at=None, failure=None))
            session.commit()
            return int(cast(Any, result).rowcount or 0)

    def for_customer(self, customer_id: str, limit: int = 50) -> list[EventRecord]:
        """Newest first."""
        with self._database.session() as session:
            query = select(EventRecord).where(EventRecord.customer_id == customer_id)
            query = query.order_by(col(EventRecord.occurred_at).desc()).limit(limit)
            return list(session.exec(query).all())


def _record(event: Event) -> EventRecord:
    return EventRecord(
        id=event.id,
        customer_id=event.customer_id,
        name=event.name,
        properties=dict(event.properties),
        occurred_at=event.occurred_at or utcnow(),
    )
