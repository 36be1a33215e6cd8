"""The event log and scheduled audiences (who to start, once per occasion). Mixed into
``Store``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from journeys.audience_query import AudienceMember, audience_page
from journeys.events import Event
from journeys.scenario import Audience
from journeys.store_models import Customer, utcnow
from journeys.tracking_models import AudienceEntry, EventRecord


class TrackingRecords:
    _session: Any  # provided by Store: a locked, short-lived Session

    # Event log ------------------------------------------------------------------------

    def record_event(self, event: Event) -> bool:
        """Stores an event once per id; False when that id was already stored.

        The customer's ``last_seen_at`` moves forward in the same transaction (a customer
        we had never heard of is created), so "inactive for 90 days" is one indexed column.
        """
        occurred = event.occurred_at or utcnow()
        with self._session() as session:
            if session.get(EventRecord, event.id) is not None:
                return False
            customer = session.get(Customer, event.customer_id, with_for_update=True)
            customer = customer or Customer(id=event.customer_id)
            if customer.last_seen_at is None or customer.last_seen_at < occurred:
                customer.last_seen_at = occurred
            session.add(customer)
            session.add(
                EventRecord(
                    id=event.id,
                    customer_id=event.customer_id,
                    name=event.name,
                    properties=dict(event.properties),
                    occurred_at=occurred,
                )
            )
            try:
                session.commit()
                return True
            except IntegrityError:  # the same id, or the same new customer, raced us
                session.rollback()
        return self.record_event(event) if not self.event_recorded(event.id) else False

    def event_recorded(self, event_id: str) -> bool:
        with self._session() as session:
            return session.get(EventRecord, event_id) is not None

    def mark_routed(self, event_id: str, at: datetime | None = None) -> None:
        with self._session() as session:
            session.execute(
                update(EventRecord)
                .where(col(EventRecord.id) == event_id)
                .values(routed_at=at or utcnow())
            )
            session.commit()

    def pending_events(self, customer_id: str | None = None, limit: int = 500) -> list[Event]:
        """Stored but not routed yet, oldest first (see ``journeys.relay``)."""
        with self._session() as session:
            query = select(EventRecord).where(col(EventRecord.routed_at).is_(None))
            if customer_id is not None:
                query = query.where(EventRecord.customer_id == customer_id)
            query = query.order_by(col(EventRecord.received_at), col(EventRecord.id)).limit(limit)
            return [record.event() for record in session.exec(query).all()]

    def events_for(self, customer_id: str, limit: int = 50) -> list[EventRecord]:
        """Newest first."""
        with self._session() as session:
            query = select(EventRecord).where(EventRecord.customer_id == customer_id)
            query = query.order_by(col(EventRecord.occurred_at).desc()).limit(limit)
            return list(session.exec(query).all())

    # Scheduled audiences --------------------------------------------------------------

    def audience_page(
        self, audience: Audience, at: datetime, after: str, limit: int
    ) -> tuple[list[AudienceMember], str]:
        """One page of the audience at ``at`` (see ``journeys.audience_query``)."""
        with self._session() as session:
            return audience_page(session, audience, at, after, limit)

    def claim_audience(
        self, scenario_id: str, members: Sequence[AudienceMember]
    ) -> list[AudienceEntry]:
        """The entries of these members still to start: new ones are written first.

        A member whose entry for this occasion was started is left out (the scan ran
        before); one written but not started (the scan died in between) is returned again,
        so nobody picked is ever lost. One transaction for the page, or one per member
        when another scan raced this one to the same rows.
        """
        if not members:
            return []
        ids = [m.customer_id for m in members]
        with self._session() as session:
            query = select(AudienceEntry).where(
                AudienceEntry.scenario_id == scenario_id, col(AudienceEntry.customer_id).in_(ids)
            )
            known = {(e.customer_id, e.occasion): e for e in session.exec(query).all()}
            fresh = [
                AudienceEntry(
                    scenario_id=scenario_id,
                    customer_id=m.customer_id,
                    occasion=m.occasion,
                    event_id=f"{scenario_id}/{m.customer_id}/{m.occasion}",
                )
                for m in members
                if (m.customer_id, m.occasion) not in known
            ]
            session.add_all(fresh)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if len(members) > 1:
                    return [e for m in members for e in self.claim_audience(scenario_id, [m])]
                return self.claim_audience(scenario_id, members)
        wanted = {(m.customer_id, m.occasion) for m in members}
        pending = [e for key, e in known.items() if key in wanted and e.started_at is None]
        return pending + fresh

    def mark_audience_started(self, entry_ids: Sequence[int], at: datetime) -> None:
        with self._session() as session:
            session.execute(
                update(AudienceEntry)
                .where(col(AudienceEntry.id).in_(entry_ids))
                .values(started_at=at)
            )
            session.commit()
