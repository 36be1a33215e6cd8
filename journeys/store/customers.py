"""Customers: profiles, consent flags and attributes, and the updates journeys apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.model.channels import CHANNELS
from journeys.model.profile import PROFILE_FIELDS
from journeys.process.clock import utcnow
from journeys.store.engine import Database
from journeys.store.tables import (
    AppliedUpdate,
    ConsentChange,
    Customer,
    apply_profile,
    customer_context,
)


class Customers:
    """A customer's profile, consent flags and attributes, changed by short transactions.

    A change that must go with another write commits with it: a consent flag with its
    ``ConsentChange`` (``identify``), a journey's values with their ``AppliedUpdate`` key
    (``apply_update``).
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, customer_id: str) -> dict[str, Any] | None:
        with self._database.session() as session:
            row = session.get(Customer, customer_id)
            return customer_context(row) if row else None

    def row(self, customer_id: str) -> Customer | None:
        """The row itself, for who must tell attributes from profile fields (``customers show``)."""
        with self._database.session() as session:
            return session.get(Customer, customer_id)

    def upsert(
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
        with self._database.session() as session:
            row = _merge_customer(session, customer_id, attributes or {}, profile)
            try:
                session.commit()
                return customer_context(row)
            except IntegrityError:
                session.rollback()
        # Another writer (another process) created the same customer first: apply ours on
        # top of it, outside the session above (the SQLite writer lock is not reentrant).
        return self.upsert(customer_id, attributes=attributes, **profile)

    def identify(
        self,
        customer_id: str,
        *,
        profile: Mapping[str, Any],
        attributes: Mapping[str, Any],
        source: str,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """``upsert`` that also logs consent changes, for ``journeys.customers.profiles``.

        Each channel whose flag differs from the stored one (absent = not granted) appends
        a ``ConsentChange`` from ``source`` dated ``at`` (default: now), in the transaction
        that changes the flag: the flag and its proof never disagree, even after a crash.
        """
        for _ in range(3):  # a conflict is a racing writer creating the same customer
            with self._database.session() as session:
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
        """``identify`` for (id, profile, attributes) rows, all in one transaction.

        All or nothing, so an import interrupted half-way leaves whole batches, never half
        a batch; the existing rows are read (and locked) in one query. Returns how many
        customers were created: the other rows updated one that was there.
        """
        ids = list(dict.fromkeys(customer_id for customer_id, _, _ in rows))
        for _ in range(3):  # a conflict is a racing writer creating one of these customers
            with self._database.session() as session:
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
        return self.upsert(customer_id, attributes=attributes, **profile)

    # Applied updates ------------------------------------------------------------------

    def applied_update(self, key: str) -> dict[str, Any] | None:
        """The values an update step wrote under ``key``, or None if it has not run yet."""
        with self._database.session() as session:
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
            with self._database.session() as session:
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
    """The consent that counts: an absent channel is not granted (as ``Consent.set`` reads it)."""
    consent = row.consent or {}
    return {channel: bool(consent.get(channel, False)) for channel in CHANNELS}


def _applied(session: Session, key: str) -> AppliedUpdate | None:
    return session.exec(select(AppliedUpdate).where(AppliedUpdate.key == key)).first()
