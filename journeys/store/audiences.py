"""Scheduled audiences: who a scan picks, and the entries that start each member once per
occasion, however often the scan runs or dies half-way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from journeys.model.scenario import Audience
from journeys.store.audience_sql import AudienceMember, audience_page
from journeys.store.engine import Database
from journeys.store.tracking_tables import AudienceEntry


class Audiences:
    def __init__(self, database: Database) -> None:
        self._database = database

    def page(
        self, audience: Audience, at: datetime, after: str, limit: int
    ) -> tuple[list[AudienceMember], str]:
        """One page of the audience at ``at`` (see ``journeys.store.audience_sql``)."""
        with self._database.session() as session:
            return audience_page(session, audience, at, after, limit)

    def claim(self, scenario_id: str, members: Sequence[AudienceMember]) -> list[AudienceEntry]:
        """The entries of these members still to start: new ones are written first.

        A member whose entry for this occasion was started is left out (the scan ran
        before); one written but not started (the scan died in between) is returned again,
        so nobody picked is ever lost. One transaction for the page, or one per member
        when another scan raced this one to the same rows.
        """
        if not members:
            return []
        ids = [m.customer_id for m in members]
        with self._database.session() as session:
            occasions = list({m.occasion for m in members})
            query = select(AudienceEntry).where(
                AudienceEntry.scenario_id == scenario_id,
                col(AudienceEntry.customer_id).in_(ids),
                col(AudienceEntry.occasion).in_(occasions),
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
                    return [e for m in members for e in self.claim(scenario_id, [m])]
                return self.claim(scenario_id, members)
        wanted = {(m.customer_id, m.occasion) for m in members}
        pending = [e for key, e in known.items() if key in wanted and e.started_at is None]
        return pending + fresh

    def mark_started(self, entry_ids: Sequence[int], at: datetime) -> None:
        with self._database.session() as session:
            session.execute(
                update(AudienceEntry)
                .where(col(AudienceEntry.id).in_(entry_ids))
                .values(started_at=at)
            )
            session.commit()
