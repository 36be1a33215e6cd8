"""The customer store, the delivery ledger, the outbox and journey entries (SQLModel).

SQLite by default and PostgreSQL in production, with the same code: only portable SQL is
used (no ``ON CONFLICT``), and races on unique keys are settled by catching
``IntegrityError`` and reading the row that won. Activities call these methods through
``asyncio.to_thread``: every method opens and closes its own short session.

Schema changes are additive: ``create_schema`` creates missing tables and adds missing
nullable columns to existing ones (``ALTER TABLE ... ADD COLUMN``), never drops anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from journeys.model.channels import CHANNELS
from journeys.model.profile import PROFILE_FIELDS
from journeys.store import access_tables, loyalty_tables, tracking_tables  # noqa: F401  (tables)
from journeys.store.access import AccessRecords
from journeys.store.consent import ConsentRecords
from journeys.store.engine import add_missing_columns, engine_for, writer_lock
from journeys.store.ledger import LedgerRecords
from journeys.store.loyalty import LoyaltyRecords
from journeys.store.points import PointsRecords
from journeys.store.tables import (
    RESERVED,
    SENT,
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
    utcnow,
)
from journeys.store.tracking import TrackingRecords

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


class Store(
    LedgerRecords, ConsentRecords, PointsRecords, LoyaltyRecords, TrackingRecords, AccessRecords
):
    """Short, self-contained transactions over the journeys database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)

    def create_schema(self) -> None:
        SQLModel.metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A Core connection (commit as you go; what is not committed is rolled back)."""
        with writer_lock(self.engine), self.engine.connect() as connection:
            yield connection

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

    def get_customer_row(self, customer_id: str) -> Customer | None:
        """The row itself, for who must tell attributes from profile fields (``customers show``)."""
        with self._session() as session:
            return session.get(Customer, customer_id)

    def loyalty_snapshot(self, customer_id: str, at: datetime) -> dict[str, Any]:
        """What templates see as ``points``, ``tier`` and ``segment``, read fresh at ``at``."""
        tier = self.tier_of(customer_id)
        segment = self.segment_of(customer_id)
        return {
            "points": self.points_summary(customer_id, at),
            "tier": tier.tier if tier else None,
            "segment": segment.segment if segment else None,
        }

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

    def identify_customer(
        self,
        customer_id: str,
        *,
        profile: Mapping[str, Any],
        attributes: Mapping[str, Any],
        source: str,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """``upsert_customer`` that also logs consent changes, for ``journeys.customers.profiles``.

        Each channel whose flag differs from the stored one (absent = not granted) appends
        a ``ConsentChange`` from ``source`` dated ``at`` (default: now), in the transaction
        that changes the flag: the flag and its proof never disagree, even after a crash.
        """
        for _ in range(3):  # a conflict is a racing writer creating the same customer
            with self._session() as session:
                row = _merge_customer(
                    session, customer_id, attributes, profile, consent_source=source, at=at
                )
                try:
                    session.commit()
                    return customer_context(row)
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"customer '{customer_id}' kept conflicting with other writers")

    def identify_many(
        self,
        rows: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
        *,
        source: str,
        at: datetime | None = None,
    ) -> int:
        """``identify_customer`` for (id, profile, attributes) rows, all in one transaction.

        All or nothing, so an import interrupted half-way leaves whole batches, never half
        a batch; the existing rows are read (and locked) in one query. Returns how many
        customers were created: the other rows updated one that was there.
        """
        ids = list(dict.fromkeys(customer_id for customer_id, _, _ in rows))
        for _ in range(3):  # a conflict is a racing writer creating one of these customers
            with self._session() as session:
                # Locked in id order: two imports sharing customers wait, never deadlock.
                query = select(Customer).where(col(Customer.id).in_(ids))
                query = query.order_by(col(Customer.id)).with_for_update()
                known = {row.id: row for row in session.exec(query)} if ids else {}
                created = 0
                for customer_id, profile, attributes in rows:
                    row = known.get(customer_id)
                    if row is None:
                        created += 1
                        row = Customer(id=customer_id)
                    try:
                        known[customer_id] = _change_customer(
                            session, row, attributes, profile, consent_source=source, at=at
                        )
                    except ValueError as err:  # nothing is committed: the batch is undone
                        raise ValueError(f"customer '{customer_id}': {err}") from None
                try:
                    session.commit()
                    return created
                except IntegrityError:
                    session.rollback()
        raise RuntimeError("an identify batch kept conflicting with other writers")

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
        Core statements (every journey writes one): see ``LedgerRecords``.
        """
        known = {"entry": entry.entry_id}
        with self._connection() as connection:
            if connection.execute(_ENTRY_ID, known).first() is not None:
                return True
            first = {"scenario": entry.scenario_id, "customer": entry.customer_id}
            if once and connection.execute(_EARLIER_ENTRY, first).first() is not None:
                return False
            entry.once_key = "once" if once else None
            values = {name: getattr(entry, name) for name in _ENTRY_COLUMNS}
            try:
                connection.execute(_INSERT_ENTRY, values)
                connection.commit()
                return True
            except IntegrityError:  # a racing first entry, or a racing retry of this one
                connection.rollback()
                return connection.execute(_ENTRY_ID, known).first() is not None

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
    *,
    consent_source: str | None = None,
    at: datetime | None = None,
) -> Customer:
    """Applies a profile and attribute change to the customer row (created if missing).

    Not committed: callers commit it together with whatever must go with it.
    """
    # FOR UPDATE (PostgreSQL): two journeys merging attributes must not lose one.
    row = session.get(Customer, customer_id, with_for_update=True)
    row = row or Customer(id=customer_id)
    return _change_customer(session, row, attributes, profile, consent_source=consent_source, at=at)


def _change_customer(
    session: Session,
    row: Customer,
    attributes: Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    consent_source: str | None,
    at: datetime | None,
) -> Customer:
    """``_merge_customer`` on a row already read; with ``consent_source``, logs consent changes."""
    before = _granted(row)
    apply_profile(row, profile)
    if attributes:
        row.attributes = {**(row.attributes or {}), **attributes}
    row.updated_at = utcnow()
    session.add(row)
    if consent_source is not None:
        after = _granted(row)
        for channel in CHANNELS:
            if before[channel] != after[channel]:
                change = ConsentChange(
                    customer_id=row.id,
                    channel=channel,
                    granted=after[channel],
                    source=consent_source,
                )
                change.created_at = at or change.created_at
                session.add(change)
    return row


def _granted(row: Customer) -> dict[str, bool]:
    """The consent that counts: an absent channel is not granted (as ``set_consent`` reads it)."""
    consent = row.consent or {}
    return {channel: bool(consent.get(channel, False)) for channel in CHANNELS}


def _applied(session: Session, key: str) -> AppliedUpdate | None:
    return session.exec(select(AppliedUpdate).where(AppliedUpdate.key == key)).first()


# ``record_entry``'s statements, built once (every journey runs them).
_ENTRIES = cast(Table, JourneyEntry.__table__)
_ENTRY_ID = select(_ENTRIES.c.id).where(_ENTRIES.c.entry_id == bindparam("entry"))
_EARLIER_ENTRY = (
    select(_ENTRIES.c.id)
    .where(
        _ENTRIES.c.scenario_id == bindparam("scenario"),
        _ENTRIES.c.customer_id == bindparam("customer"),
    )
    .limit(1)
)
_INSERT_ENTRY = insert(_ENTRIES)
_ENTRY_COLUMNS = tuple(column.name for column in _ENTRIES.columns if column.name != "id")
