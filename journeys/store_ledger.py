"""The delivery ledger: one row per (delivery key, channel), the frequency cap, provider
statuses. Mixed into ``Store``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.frequency_cap import FrequencyCap
from journeys.store_models import RESERVED, SENT, Customer, Delivery, utcnow

# How far along a provider-reported status is. A status webhook never moves a row back:
# callbacks arrive out of order (Twilio's ``sent`` after ``delivered``), and a bounce or a
# complaint after ``delivered`` is news, while ``delivered`` after a bounce is not.
PROVIDER_STATUS_RANK: dict[str, int] = {
    **dict.fromkeys(("accepted", "scheduled", "queued", "processed", "sending"), 0),
    **dict.fromkeys(("sent", "deferred"), 1),
    **dict.fromkeys(("delivered", "read"), 2),
    **dict.fromkeys(("undelivered", "failed", "canceled", "bounce", "blocked", "dropped"), 3),
    "spamreport": 4,
}


class LedgerRecords:
    _session: Any  # provided by Store: a locked, short-lived Session

    # Delivery ledger ------------------------------------------------------------------

    def deliveries_for_key(self, delivery_key: str) -> list[Delivery]:
        with self._session() as session:
            query = select(Delivery).where(Delivery.delivery_key == delivery_key)
            return list(session.exec(query.order_by(col(Delivery.id))).all())

    def deliveries_for(self, customer_id: str) -> list[Delivery]:
        with self._session() as session:
            query = select(Delivery).where(Delivery.customer_id == customer_id)
            return list(session.exec(query.order_by(col(Delivery.id))).all())

    def record_delivery(self, entry: Delivery) -> Delivery:
        """Inserts the ledger row for (delivery_key, channel), or moves it on; returns it as stored.

        On update only status, reason, provider message id and recipient change: who and
        what the row is about was fixed when it was first written. The update is one
        conditional statement, atomic on every database:

        * a ``sent`` row never changes: a late write of an overlapping attempt (one that
          timed out while its thread kept running) cannot turn a send back into ``reserved``;
        * a ``reserved`` row keeps its recipient: the message may already be out there.

        Callers compare the returned row's status with the one they wrote.
        """
        with self._session() as session:
            return self._write_ledger(session, entry)

    def _write_ledger(self, session: Session, entry: Delivery) -> Delivery:
        """``record_delivery`` inside the caller's transaction (which it commits)."""
        if self._ledger_row(session, entry.delivery_key, entry.channel) is None:
            session.add(entry)
            try:
                session.commit()
                return entry
            except IntegrityError:
                session.rollback()  # another attempt wrote the row first: update it
        changes: dict[str, Any] = {
            "status": entry.status,
            "reason": entry.reason,
            "updated_at": utcnow(),
            "recipient": case(
                (col(Delivery.status) == RESERVED, col(Delivery.recipient)),
                else_=entry.recipient,
            ),
        }
        if entry.provider_message_id:
            changes["provider_message_id"] = entry.provider_message_id
        if entry.journey_time is not None:
            changes["purpose"], changes["journey_time"] = entry.purpose, entry.journey_time
        statement = (
            update(Delivery)
            .where(
                col(Delivery.delivery_key) == entry.delivery_key,
                col(Delivery.channel) == entry.channel,
                col(Delivery.status) != SENT,
            )
            .values(changes)
        )
        session.exec(statement)
        session.commit()
        row = self._ledger_row(session, entry.delivery_key, entry.channel, fresh=True)
        assert row is not None, "the ledger row must exist"
        return row

    def reserve_within_cap(self, entry: Delivery, cap: FrequencyCap) -> Delivery | None:
        """Reserves ``entry`` (status ``reserved``) unless the customer's marketing messages
        reserved or sent within ``cap.window`` before ``entry.journey_time`` already reach
        ``cap.limit``; returns the stored row, or None when capped.

        The first statement updates the customer's row: that takes the row lock on
        PostgreSQL and the write lock on SQLite, so concurrent reservations for one
        customer count and reserve one after the other, never both under the cap.
        """
        assert entry.journey_time is not None and entry.status == RESERVED
        with self._session() as session:
            session.exec(
                update(Customer)
                .where(col(Customer.id) == entry.customer_id)
                .values(updated_at=col(Customer.updated_at))
            )
            since = entry.journey_time - cap.window
            counted = session.exec(
                select(func.count())
                .select_from(Delivery)
                .where(
                    col(Delivery.customer_id) == entry.customer_id,
                    col(Delivery.purpose) == "marketing",
                    col(Delivery.status).in_((RESERVED, SENT)),
                    col(Delivery.journey_time) > since,
                    col(Delivery.delivery_key) != entry.delivery_key,
                )
            ).one()
            if counted >= cap.limit:
                session.rollback()
                return None
            return self._write_ledger(session, entry)  # same transaction: still locked

    @staticmethod
    def _ledger_row(
        session: Session, delivery_key: str, channel: str, fresh: bool = False
    ) -> Delivery | None:
        """The row for (key, channel); ``fresh`` reloads it over the copy the session holds."""
        query = select(Delivery).where(
            Delivery.delivery_key == delivery_key, Delivery.channel == channel
        )
        if fresh:
            query = query.execution_options(populate_existing=True)
        return session.exec(query).first()

    def record_provider_status(
        self,
        delivery_key: str,
        channel: str,
        status: str,
        *,
        reason: str = "",
        at: datetime | None = None,
    ) -> Delivery | None:
        """Writes what a provider reported about a send; returns the row, None if unknown.

        Only ``provider_status*`` change, never ``status``: the exactly-once logic reads
        ``status`` and must not see a webhook. One conditional statement (atomic on every
        database) that moves the row forward only: a status ranked below the stored one
        (``PROVIDER_STATUS_RANK``) changes nothing; the same status again rewrites the
        same values, so a redelivered webhook is harmless.
        """
        rank = PROVIDER_STATUS_RANK.get(status, 0)
        known = list(PROVIDER_STATUS_RANK)
        not_ahead = [name for name, value in PROVIDER_STATUS_RANK.items() if value <= rank]
        current = col(Delivery.provider_status)
        statement = (
            update(Delivery)
            .where(
                col(Delivery.delivery_key) == delivery_key,
                col(Delivery.channel) == channel,
                or_(current.is_(None), current.in_(not_ahead), current.not_in(known)),
            )
            .values(
                provider_status=status,
                provider_status_reason=reason[:1000],
                provider_status_at=at or utcnow(),
                updated_at=utcnow(),
            )
        )
        with self._session() as session:
            session.exec(statement)
            session.commit()
            return self._ledger_row(session, delivery_key, channel, fresh=True)
