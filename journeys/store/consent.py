"""Consent and the suppression list: who agreed to hear from us on which channel, with the
log that proves it, and which addresses must never be sent to again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.model.profile import check_profile_value, normalize_address
from journeys.process.clock import utcnow
from journeys.store.engine import Database
from journeys.store.tables import ConsentChange, Customer, Suppression, apply_profile


class Consent:
    def __init__(self, database: Database) -> None:
        self._database = database

    def suppress(self, channel: str, address: str, reason: str) -> bool:
        """Puts an address on the suppression list; False if it was already there.

        The first reason is kept: it says why the address was suppressed in the first place.
        """
        row = Suppression(
            channel=channel, address=normalize_address(channel, address), reason=reason[:1000]
        )
        with self._database.session() as session:
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
        with self._database.connection() as connection:
            return suppressed_among(connection, addresses)

    def suppressions(self, channel: str | None = None) -> list[Suppression]:
        with self._database.session() as session:
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

    def set(
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
        check_profile_value("consent", {channel: granted})  # the profile's rule, one sentence
        with self._database.session() as session:
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

    def changes(self, customer_id: str) -> list[ConsentChange]:
        """Oldest first: the customer's consent history."""
        with self._database.session() as session:
            query = select(ConsentChange).where(ConsentChange.customer_id == customer_id)
            return list(session.exec(query.order_by(col(ConsentChange.id))).all())


SUPPRESSIONS = cast(Table, Suppression.__table__)


def suppressed_among(connection: Connection, addresses: Mapping[str, Any]) -> set[str]:
    """Which of these (channel → address) pairs are on the suppression list; one query."""
    pairs = {
        channel: normalize_address(channel, address)
        for channel, address in addresses.items()
        if address
    }
    if not pairs:
        return set()
    query = select(SUPPRESSIONS.c.channel).where(
        or_(
            *(
                and_(SUPPRESSIONS.c.channel == channel, SUPPRESSIONS.c.address == address)
                for channel, address in pairs.items()
            )
        )
    )
    return set(connection.execute(query).scalars())
