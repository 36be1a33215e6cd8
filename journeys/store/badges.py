"""Badges: a named badge held once per customer, awarded idempotently by a source reference.

A challenge's reward ("3 purchases within 30 days earns a badge") must not be given twice
by a retried step, nor by a second journey entry: (customer, badge) is unique, and so is
``source_ref`` (the awarding step's key), so a retry finds its own row and a later award
of a badge already held changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from journeys.store.counter_tables import Badge
from journeys.store.engine import Database

_RETRIES = 3


class Badges:
    def __init__(self, database: Database) -> None:
        self._database = database

    def award(
        self, customer_id: str, badge: str, *, source_ref: str, at: datetime
    ) -> tuple[Badge, bool]:
        """(the row, True) when awarded by this ``source_ref`` (now, or by an earlier attempt
        of the same step); (the row held, False) when the customer already held it."""
        for _ in range(_RETRIES):
            with self._database.session() as session:
                held = _held(session, customer_id, badge, source_ref)
                if held is not None:
                    return held, held.source_ref == source_ref and held.badge == badge
                row = Badge(
                    customer_id=customer_id, badge=badge, source_ref=source_ref, awarded_at=at
                )
                session.add(row)
                try:
                    session.commit()
                    return row, True
                except IntegrityError:  # a racing award: read what it wrote
                    session.rollback()
        raise RuntimeError(
            f"badge '{badge}' for '{customer_id}' kept conflicting with other writers"
        )

    def of(self, customer_id: str) -> list[str]:
        """The customer's badges, oldest first."""
        with self._database.session() as session:
            query = select(Badge.badge).where(Badge.customer_id == customer_id)
            return list(session.exec(query.order_by(col(Badge.awarded_at), col(Badge.id))).all())


def _held(session: Session, customer_id: str, badge: str, source_ref: str) -> Badge | None:
    query = select(Badge).where(
        or_(
            col(Badge.source_ref) == source_ref,
            (col(Badge.customer_id) == customer_id) & (col(Badge.badge) == badge),
        )
    )
    return session.exec(query.order_by(col(Badge.id))).first()
