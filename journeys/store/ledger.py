"""The delivery ledger: one row per (delivery key, channel), the frequency cap, provider
statuses. What makes a send happen at most once per key, whatever retries Temporal makes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from journeys.delivery.frequency_cap import FrequencyCap
from journeys.process.clock import utcnow
from journeys.store.consent import suppressed_among
from journeys.store.engine import Database
from journeys.store.ledger_statements import (
    COUNT_CAPPED,
    CUSTOMER,
    INSERT,
    INSERTED,
    LOCK_CUSTOMER,
    MOVE_ON,
    ROW,
    ROW_ID,
    ROWS_FOR_KEY,
)
from journeys.store.tables import RESERVED, Delivery

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


class Ledger:
    """The deliver activity's reads and writes use SQLAlchemy Core with statements built once
    (``ledger_statements``), no ORM session: they run for every message, and a Session cost
    ~1 ms per write on SQLite where the statements themselves take ~0.05 ms."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def for_key(self, delivery_key: str) -> list[Delivery]:
        with self._database.connection() as connection:
            return _ledger_rows(connection, delivery_key)

    def for_customer(self, customer_id: str) -> list[Delivery]:
        with self._database.session() as session:
            query = select(Delivery).where(Delivery.customer_id == customer_id)
            return list(session.exec(query.order_by(col(Delivery.id))).all())

    def attempt_inputs(
        self, delivery_key: str, customer_id: str, addresses: Callable[[Any], Mapping[str, Any]]
    ) -> tuple[list[Delivery], Any, set[str]]:
        """What a delivery attempt decides on, read in one transaction: the key's ledger rows,
        the customer row (None if unknown) and which of its addresses are suppressed.

        ``addresses`` maps the customer row to the (channel → address) pairs to check.
        """
        with self._database.connection() as connection:
            rows = _ledger_rows(connection, delivery_key)
            customer = connection.execute(CUSTOMER, {"customer": customer_id}).first()
            pairs = addresses(customer) if customer is not None else {}
            return rows, customer, suppressed_among(connection, pairs)

    def record(self, entry: Delivery) -> Delivery:
        """Inserts the ledger row for (delivery_key, channel), or moves it on; returns it as stored.

        On update only status, reason, provider message id and recipient change: who and
        what the row is about was fixed when it was first written. The update is one
        conditional statement, atomic on every database:

        * a ``sent`` row never changes: a late write of an overlapping attempt (one that
          timed out while its thread kept running) cannot turn a send back into ``reserved``;
        * a ``reserved`` row keeps its recipient: the message may already be out there.

        Callers compare the returned row's status with the one they wrote.
        """
        with self._database.connection() as connection:
            return _write_ledger(connection, entry)

    def reserve_within_cap(self, entry: Delivery, cap: FrequencyCap) -> Delivery | None:
        """Reserves ``entry`` (status ``reserved``) unless the customer's marketing messages
        reserved or sent within ``cap.window`` before ``entry.journey_time`` already reach
        ``cap.limit``; returns the stored row, or None when capped.

        The first statement updates the customer's row: that takes the row lock on
        PostgreSQL and the write lock on SQLite, so concurrent reservations for one
        customer count and reserve one after the other, never both under the cap.
        """
        assert entry.journey_time is not None and entry.status == RESERVED
        with self._database.connection() as connection:
            connection.execute(LOCK_CUSTOMER, {"customer": entry.customer_id})
            counted = connection.execute(
                COUNT_CAPPED,
                {
                    "customer": entry.customer_id,
                    "since": entry.journey_time - cap.window,
                    "key": entry.delivery_key,
                },
            ).scalar_one()
            if counted >= cap.limit:
                connection.rollback()
                return None
            return _write_ledger(connection, entry)  # same transaction: still locked

    def record_provider_status(
        self,
        delivery_key: str,
        channel: str,
        status: str,
        *,
        reason: str = "",
        at: datetime | None = None,
        message_id: str = "",
    ) -> Delivery | None:
        """Writes what a provider reported about a send; returns the row, None if unknown.

        Only ``provider_status*`` change, and ``provider_message_id`` when none is stored
        (``message_id``: the provider's id in the report), never ``status``: a webhook never
        moves a send on by itself. What a report on a row still ``reserved`` means — the
        provider has the message of an attempt that died before recording its answer — is
        the deliver activity's decision on its next attempt (``activities.delivery_plan``).
        One conditional statement (atomic on every database) that moves the row forward
        only: a status ranked below the stored one (``PROVIDER_STATUS_RANK``) changes
        nothing; the same status again rewrites the same values, so a redelivered webhook
        is harmless.
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
                provider_message_id=func.coalesce(
                    col(Delivery.provider_message_id), message_id[:200] or None
                ),
                updated_at=utcnow(),
            )
        )
        with self._database.connection() as connection:
            connection.execute(statement)
            connection.commit()
            row = connection.execute(ROW, {"key": delivery_key, "channel_": channel}).first()
            return Delivery(**row._mapping) if row is not None else None


def _ledger_rows(connection: Connection, delivery_key: str) -> list[Delivery]:
    return [
        Delivery(**row._mapping) for row in connection.execute(ROWS_FOR_KEY, {"key": delivery_key})
    ]


def _write_ledger(connection: Connection, entry: Delivery) -> Delivery:
    """``Ledger.record`` inside the caller's transaction, which it commits."""
    this_row = {"key": entry.delivery_key, "channel_": entry.channel}
    if connection.execute(ROW_ID, this_row).first() is None:
        values = {name: getattr(entry, name) for name in INSERTED}
        try:
            entry.id = connection.execute(INSERT, values).scalar_one()
            connection.commit()
            return entry
        except IntegrityError:
            connection.rollback()  # another attempt wrote the row first: update it
    changes = {
        "status_": entry.status,
        "reason_": entry.reason,
        "now": utcnow(),
        "recipient_": entry.recipient,
        "message_id": entry.provider_message_id or None,
        "purpose_": entry.purpose,
        "journey_time_": entry.journey_time,
    }
    stored = connection.execute(MOVE_ON, this_row | changes).first()
    if stored is None:  # sent: it never changes
        stored = connection.execute(ROW, this_row).one()
    connection.commit()
    return Delivery(**stored._mapping)
