"""The customer store, the delivery ledger, the outbox and journey entries (SQLModel).

SQLite by default and PostgreSQL in production, with the same code: only portable SQL is
used (no ``ON CONFLICT``), and races on unique keys are settled by catching
``IntegrityError`` and reading the row that won. Activities call these methods through
``asyncio.to_thread``: every method opens and closes its own short session.

Schema changes are additive: ``create_schema`` creates missing tables and adds missing
nullable columns to existing ones (``ALTER TABLE ... ADD COLUMN``), never drops anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from journeys.frequency_cap import FrequencyCap
from journeys.store_engine import add_missing_columns, engine_for, writer_lock
from journeys.store_models import (
    CHANNELS,
    PROFILE_FIELDS,
    AppliedUpdate,
    ConsentChange,
    Customer,
    Delivery,
    JourneyEntry,
    OutboxMessage,
    Suppression,
    apply_profile,
    blank_customer,
    customer_context,
    normalize_address,
    utcnow,
)

__all__ = [
    "PROFILE_FIELDS",
    "RESERVED",
    "SENT",
    "AppliedUpdate",
    "ConsentChange",
    "Customer",
    "Delivery",
    "JourneyEntry",
    "OutboxMessage",
    "Store",
    "Suppression",
    "blank_customer",
    "customer_context",
]

# A ledger row in this status never changes again (see ``Store.record_delivery``).
SENT = "sent"
RESERVED = "reserved"

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


class Store:
    """Short, self-contained transactions over the journeys database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)

    def create_schema(self) -> None:
        SQLModel.metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        # Rows stay readable after commit: callers get plain, detached objects.
        with writer_lock(self.engine), Session(self.engine, expire_on_commit=False) as session:
            yield session

    # Customers ------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> dict[str, Any] | None:
        with self._session() as session:
            row = session.get(Customer, customer_id)
            return customer_context(row) if row else None

    def upsert_customer(
        self,
        customer_id: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        **profile: Any,
    ) -> dict[str, Any]:
        """Creates or updates a customer; returns its context shape.

        ``profile`` takes the ``PROFILE_FIELDS``: a field not passed is left as it is, a
        field passed as ``None`` is cleared (e.g. an invalidated push token). ``consent``
        and ``attributes`` are merged into what is stored, key by key, like a profile
        update from an app: sending ``{"sms": True}`` does not withdraw email consent.
        PostgreSQL locks the row for the merge; on SQLite the read precedes the write lock,
        so two merges at the same instant can lose one key (acceptable for one node).
        """
        with self._session() as session:
            row = _merge_customer(session, customer_id, attributes or {}, profile)
            try:
                session.commit()
                return customer_context(row)
            except IntegrityError:
                session.rollback()
        # Another writer (another process) created the same customer first: apply ours on
        # top of it, outside the session above (the SQLite writer lock is not reentrant).
        return self.upsert_customer(customer_id, attributes=attributes, **profile)

    def set_attributes(self, customer_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Writes values a journey computed; profile field names go to their columns."""
        profile, attributes = _split_values(values)
        return self.upsert_customer(customer_id, attributes=attributes, **profile)

    # Applied updates ------------------------------------------------------------------

    def applied_update(self, key: str) -> dict[str, Any] | None:
        """The values an update step wrote under ``key``, or None if it has not run yet."""
        with self._session() as session:
            row = _applied(session, key)
            return dict(row.values) if row else None

    def apply_update(self, customer_id: str, values: Mapping[str, Any], key: str) -> dict[str, Any]:
        """``set_attributes`` at most once per ``key``; returns the values stored for the key.

        The key row and the customer change commit together, so a retried (or overlapping)
        attempt either finds the key and changes nothing, or loses the unique key race and
        rolls its customer change back.
        """
        profile, attributes = _split_values(values)
        for _ in range(3):  # a conflict is a racing attempt or a racing new customer
            with self._session() as session:
                done = _applied(session, key)
                if done is not None:
                    return dict(done.values)
                _merge_customer(session, customer_id, attributes, profile)
                session.add(AppliedUpdate(key=key, customer_id=customer_id, values=dict(values)))
                try:
                    session.commit()
                    return dict(values)
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"update '{key}' kept conflicting with other writers")

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

    # Suppression list and consent -----------------------------------------------------

    def suppress(self, channel: str, address: str, reason: str) -> bool:
        """Puts an address on the suppression list; False if it was already there.

        The first reason is kept: it says why the address was suppressed in the first place.
        """
        row = Suppression(
            channel=channel, address=normalize_address(channel, address), reason=reason[:1000]
        )
        with self._session() as session:
            if self._suppression(session, row.channel, row.address) is not None:
                return False
            session.add(row)
            try:
                session.commit()
                return True
            except IntegrityError:  # a racing webhook suppressed it first
                session.rollback()
                return False

    def suppressed_channels(self, addresses: Mapping[str, str | None]) -> set[str]:
        """Which of these (channel → address) pairs are on the suppression list; one query."""
        pairs = {
            channel: normalize_address(channel, address)
            for channel, address in addresses.items()
            if address
        }
        if not pairs:
            return set()
        query = select(Suppression.channel).where(
            or_(
                *(
                    and_(col(Suppression.channel) == channel, col(Suppression.address) == address)
                    for channel, address in pairs.items()
                )
            )
        )
        with self._session() as session:
            return set(session.exec(query).all())

    def suppressions(self, channel: str | None = None) -> list[Suppression]:
        with self._session() as session:
            query = select(Suppression)
            if channel is not None:
                query = query.where(Suppression.channel == channel)
            return list(session.exec(query.order_by(col(Suppression.id))).all())

    @staticmethod
    def _suppression(session: Session, channel: str, address: str) -> Suppression | None:
        query = select(Suppression).where(
            Suppression.channel == channel, Suppression.address == address
        )
        return session.exec(query).first()

    def set_consent(
        self,
        customer_id: str,
        channel: str,
        granted: bool,
        *,
        source: str,
        purpose: str = "marketing",
        detail: str = "",
    ) -> bool:
        """Sets one channel's consent and appends the change to ``consent_changes``.

        Returns False, writing nothing, when the flag already had that value (an unsubscribe
        link clicked twice is logged once) or the customer does not exist (nothing to
        withdraw, and no record is created for someone we do not know). The flag and its
        log row commit together.
        """
        if channel not in CHANNELS:
            raise ValueError(f"consent channel '{channel}' must be one of {', '.join(CHANNELS)}")
        with self._session() as session:
            # FOR UPDATE (PostgreSQL): two clicks at once must not both log a change.
            row = session.get(Customer, customer_id, with_for_update=True)
            if row is None or bool((row.consent or {}).get(channel, False)) == granted:
                return False
            apply_profile(row, {"consent": {channel: granted}})
            row.updated_at = utcnow()
            session.add(row)
            session.add(
                ConsentChange(
                    customer_id=customer_id,
                    channel=channel,
                    purpose=purpose,
                    granted=granted,
                    source=source,
                    detail=detail[:1000],
                )
            )
            session.commit()
            return True

    def consent_changes(self, customer_id: str) -> list[ConsentChange]:
        """Oldest first: the customer's consent history."""
        with self._session() as session:
            query = select(ConsentChange).where(ConsentChange.customer_id == customer_id)
            return list(session.exec(query.order_by(col(ConsentChange.id))).all())

    # Outbox ---------------------------------------------------------------------------

    def insert_outbox(self, message: OutboxMessage) -> OutboxMessage:
        """Stores a message once per delivery_key; a repeat returns the row already there."""
        with self._session() as session:
            query = select(OutboxMessage).where(OutboxMessage.delivery_key == message.delivery_key)
            existing = session.exec(query).first()
            if existing is not None:
                return existing
            session.add(message)
            try:
                session.commit()
                return message
            except IntegrityError:
                session.rollback()
                existing = session.exec(query).first()
                assert existing is not None, "the conflicting outbox row must exist"
                return existing

    def latest_outbox(self, limit: int = 20, customer_id: str | None = None) -> list[OutboxMessage]:
        """Newest first: what a user checks right after triggering a journey."""
        with self._session() as session:
            query = select(OutboxMessage)
            if customer_id is not None:
                query = query.where(OutboxMessage.customer_id == customer_id)
            query = query.order_by(col(OutboxMessage.id).desc()).limit(limit)
            return list(session.exec(query).all())

    def outbox_for(self, customer_id: str) -> list[OutboxMessage]:
        """Oldest first: one customer's messages in the order the journey sent them."""
        with self._session() as session:
            query = select(OutboxMessage).where(OutboxMessage.customer_id == customer_id)
            return list(session.exec(query.order_by(col(OutboxMessage.id))).all())

    # Journey entries ------------------------------------------------------------------

    def record_entry(self, entry: JourneyEntry, *, once: bool) -> bool:
        """Records an entry; with ``once``, only the customer's first entry is allowed.

        Idempotent per entry_id: a retried activity gets True again. Two different first
        entries racing both pass the read; the unique ``once_key`` lets one insert win.
        """
        with self._session() as session:
            if self._entry(session, entry.entry_id) is not None:
                return True
            if once and self._first_entry(session, entry) is not None:
                return False
            entry.once_key = "once" if once else None
            session.add(entry)
            try:
                session.commit()
                return True
            except IntegrityError:  # a racing first entry, or a racing retry of this one
                session.rollback()
                return self._entry(session, entry.entry_id) is not None

    @staticmethod
    def _entry(session: Session, entry_id: str) -> JourneyEntry | None:
        return session.exec(select(JourneyEntry).where(JourneyEntry.entry_id == entry_id)).first()

    @staticmethod
    def _first_entry(session: Session, entry: JourneyEntry) -> JourneyEntry | None:
        query = select(JourneyEntry).where(
            JourneyEntry.scenario_id == entry.scenario_id,
            JourneyEntry.customer_id == entry.customer_id,
        )
        return session.exec(query.order_by(col(JourneyEntry.id))).first()

    def entries_for(self, scenario_id: str, customer_id: str) -> list[JourneyEntry]:
        with self._session() as session:
            query = select(JourneyEntry).where(
                JourneyEntry.scenario_id == scenario_id, JourneyEntry.customer_id == customer_id
            )
            return list(session.exec(query.order_by(col(JourneyEntry.id))).all())


def _split_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(profile fields, attributes) of what a journey sets; ``id`` is never writable."""
    if "id" in values:
        raise ValueError("a customer's id cannot be changed")
    profile = {k: v for k, v in values.items() if k in PROFILE_FIELDS}
    attributes = {k: v for k, v in values.items() if k not in PROFILE_FIELDS}
    return profile, attributes


def _merge_customer(
    session: Session,
    customer_id: str,
    attributes: Mapping[str, Any],
    profile: Mapping[str, Any],
) -> Customer:
    """Applies a profile and attribute change to the customer row (created if missing).

    Not committed: callers commit it together with whatever must go with it.
    """
    # FOR UPDATE (PostgreSQL): two journeys merging attributes must not lose one.
    row = session.get(Customer, customer_id, with_for_update=True)
    row = row or Customer(id=customer_id)
    apply_profile(row, profile)
    if attributes:
        row.attributes = {**(row.attributes or {}), **attributes}
    row.updated_at = utcnow()
    session.add(row)
    return row


def _applied(session: Session, key: str) -> AppliedUpdate | None:
    return session.exec(select(AppliedUpdate).where(AppliedUpdate.key == key)).first()
