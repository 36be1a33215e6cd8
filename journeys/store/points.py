"""The points wallet: earn, redeem, settle (activate, expire), summaries.

Points live in lots (what one purchase earned) and every change is a row of the append-only
``points_entries`` ledger, so balance = earned - redeemed - expired can be audited at any
time. Three rules keep that true under retries and concurrency:

* **Exactly once by ``source_ref``.** Activities run at least once: an earn is keyed by its
  lot's unique ``source_ref`` and a redemption by its REDEEM entries' ``source_ref``, so a
  retry (or a racing duplicate, caught as ``IntegrityError``) finds what the first attempt
  wrote and returns it instead of earning or spending twice.
* **FIFO by expiry.** A redemption spends the points that would expire first (lots that
  never expire last): the customer loses as little as possible to expiry.
* **Row locks on PostgreSQL.** A redemption locks the customer row, then the lots it reads
  (``FOR UPDATE``), so two redemptions at once are serialised and can never spend one
  balance twice; the daily settle skips lots a redemption holds (``SKIP LOCKED``) and
  leaves them for the next run instead of deadlocking with it. On SQLite the in-process
  writer lock of ``Database.session`` serialises every transaction already.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.loyalty.program import PointsRules, last_local_day
from journeys.store.engine import Database
from journeys.store.loyalty_tables import (
    ACTIVE,
    EARN,
    EXPIRE,
    EXPIRED,
    PENDING,
    REDEEM,
    PointsEntry,
    PointsLot,
)
from journeys.store.moments import aware_utc, customer_zone
from journeys.store.tables import Customer

# Statuses a lot can still be spent or settled in (``IN``, not ``!= expired``: indexable).
_LIVE = (PENDING, ACTIVE)
# Redemption order: earliest expiry first, lots that never expire last, then oldest first.
_FIFO = (
    case((col(PointsLot.expires_at).is_(None), 1), else_=0),
    col(PointsLot.expires_at),
    col(PointsLot.earned_at),
    col(PointsLot.id),
)


class InsufficientPoints(ValueError):
    """A redemption asked for more than the customer can spend now; nothing was spent."""

    def __init__(self, balance: int, requested: int) -> None:
        super().__init__(f"only {balance} points can be spent, {requested} requested")
        self.balance = balance
        self.requested = requested


class Points:
    def __init__(self, database: Database) -> None:
        self._database = database

    # Earn -----------------------------------------------------------------------------

    def earn(
        self,
        customer_id: str,
        points: int,
        *,
        source_ref: str,
        reason: str,
        at: datetime,
        rules: PointsRules,
    ) -> PointsLot:
        """Creates the lot and its EARN entry together, once per ``source_ref``.

        A repeat returns the lot already there (whoever it was earned for: the reference
        names the purchase, and a purchase earns once). Purchases can arrive before a
        profile, so a missing customer is created blank in the same transaction; its
        expiry is then computed in UTC, like for a time zone we cannot read.
        """
        if points <= 0:
            raise ValueError(f"points earned must be positive, not {points}")
        at = aware_utc(at, "points")
        for _ in range(3):  # a conflict is a racing duplicate or a racing new customer
            with self._database.session() as session:
                existing = _lot_by_ref(session, source_ref)
                if existing is not None:
                    return existing
                customer = session.get(Customer, customer_id)
                if customer is None:
                    customer = Customer(id=customer_id)
                    session.add(customer)
                lot = PointsLot(
                    customer_id=customer_id,
                    amount=points,
                    remaining=points,
                    status=PENDING if rules.pending > timedelta(0) else ACTIVE,
                    reason=reason,
                    earned_at=at,
                    active_at=at + rules.pending,
                    expires_at=rules.expiry.expires_at(at, customer_zone(customer)),
                    source_ref=source_ref,
                )
                session.add(lot)
                try:
                    session.flush()  # the lot's id, for its entry
                    session.add(_entry(lot, EARN, points, source_ref, reason, at))
                    session.commit()
                    return lot
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"earning '{source_ref}' kept conflicting with other writers")

    # Redeem ---------------------------------------------------------------------------

    def redeem(
        self, customer_id: str, points: int, *, source_ref: str, reason: str, at: datetime
    ) -> int:
        """Spends ``points`` all or nothing, earliest expiry first; returns what was spent.

        A retry with the same ``source_ref`` returns the first attempt's total and spends
        nothing, even if the balance has changed since. The customer row is locked before
        that check, so a retry racing its first attempt waits for it and then sees it.
        """
        if points <= 0:
            raise ValueError(f"points redeemed must be positive, not {points}")
        at = aware_utc(at, "points")
        with self._database.session() as session:
            customer = session.get(Customer, customer_id, with_for_update=True)
            done = _redeemed(session, customer_id, source_ref)
            if done is not None:
                return done
            if customer is None:  # nobody to spend for: nothing is created
                raise InsufficientPoints(0, points)
            # FOR UPDATE again: a lot the daily settle is expiring is re-read once it is done.
            query = select(PointsLot).where(*_spendable(customer_id, at)).order_by(*_FIFO)
            lots = session.exec(query.with_for_update()).all()
            balance = sum(lot.remaining for lot in lots)
            if balance < points:
                raise InsufficientPoints(balance, points)
            left = points
            for lot in lots:
                if left == 0:
                    break
                taken = min(left, lot.remaining)
                lot.remaining -= taken
                left -= taken
                session.add(lot)
                session.add(_entry(lot, REDEEM, -taken, source_ref, reason, at))
            try:
                session.commit()
                return points
            except IntegrityError:  # another process redeemed this reference first
                session.rollback()
                done = _redeemed(session, customer_id, source_ref)
                if done is None:
                    raise
                return done

    # Settle ---------------------------------------------------------------------------

    def settle(self, at: datetime, *, batch: int = 500) -> tuple[int, int]:
        """The daily job: activates pending lots that are due and expires lots that are past;
        returns (lots activated, points expired).

        A page of ``batch`` lots per transaction keeps locks and memory small on a large
        wallet table. Settled lots leave the query's condition, so each page is simply the
        first ``batch`` still due and a second run finds nothing. A lot that is both due
        and past its expiry is only expired: it was never spendable as an active lot.
        """
        if batch <= 0:
            raise ValueError(f"batch must be positive, not {batch}")
        at = aware_utc(at, "points")
        expires_at = col(PointsLot.expires_at)
        due = or_(
            expires_at <= at,
            and_(col(PointsLot.status) == PENDING, col(PointsLot.active_at) <= at),
        )
        query = (
            select(PointsLot)
            .where(col(PointsLot.status).in_(_LIVE), due)
            .order_by(col(PointsLot.id))
            .limit(batch)
            .with_for_update(skip_locked=True)  # held by a redemption: next run
        )
        activated = expired = 0
        while True:
            with self._database.session() as session:
                lots = session.exec(query).all()
                page_activated = page_expired = 0
                for lot in lots:
                    if lot.expires_at is not None and lot.expires_at <= at:
                        if lot.remaining > 0:
                            ref = f"expire/{lot.id}"
                            lost = -lot.remaining
                            session.add(_entry(lot, EXPIRE, lost, ref, "expired", lot.expires_at))
                            page_expired += lot.remaining
                        lot.status, lot.remaining = EXPIRED, 0
                    else:
                        lot.status = ACTIVE
                        page_activated += 1
                    session.add(lot)
                session.commit()
            activated += page_activated
            expired += page_expired
            if len(lots) < batch:
                return activated, expired

    # Reading --------------------------------------------------------------------------

    def summary(self, customer_id: str, at: datetime) -> dict[str, Any]:
        """What templates see as ``points``; SQL aggregates, whatever the number of lots.

        ``next_expiring_on`` is the last local day the points can be used: lots expire at
        the first instant of the next period, so the day before that instant, in the
        customer's zone, is what "use them by" means to the customer.
        """
        at = aware_utc(at, "points")
        with self._database.session() as session:
            zone = customer_zone(session.get(Customer, customer_id))
            remaining = func.coalesce(func.sum(col(PointsLot.remaining)), 0)
            balance = session.exec(select(remaining).where(*_spendable(customer_id, at))).one()
            pending = session.exec(
                select(remaining).where(
                    col(PointsLot.customer_id) == customer_id,
                    col(PointsLot.status).in_(_LIVE),
                    col(PointsLot.active_at) > at,
                    _not_expired(at),
                )
            ).one()
            expires_at = col(PointsLot.expires_at)
            first = session.exec(
                select(expires_at, func.sum(col(PointsLot.remaining)))
                .where(*_spendable(customer_id, at), expires_at.is_not(None))
                .group_by(expires_at)
                .order_by(expires_at)
                .limit(1)
            ).first()
            kinds = session.exec(
                select(col(PointsEntry.kind), func.sum(col(PointsEntry.amount)))
                .where(col(PointsEntry.customer_id) == customer_id)
                .group_by(col(PointsEntry.kind))
            ).all()
        totals = {kind: abs(int(total or 0)) for kind, total in kinds}
        next_at, next_amount = first if first is not None else (None, 0)
        last_day = last_local_day(next_at, zone) if next_at else None
        return {
            "balance": int(balance),
            "pending": int(pending),
            "next_expiring_amount": int(next_amount or 0),
            "next_expiring_at": next_at,
            "next_expiring_on": last_day.isoformat() if last_day else None,
            "earned": totals.get(EARN, 0),
            "redeemed": totals.get(REDEEM, 0),
            "expired": totals.get(EXPIRE, 0),
        }

    def lots(self, customer_id: str) -> list[PointsLot]:
        """Oldest first: the customer's lots, spent, pending or expired."""
        with self._database.session() as session:
            query = select(PointsLot).where(PointsLot.customer_id == customer_id)
            return list(session.exec(query.order_by(col(PointsLot.id))).all())

    def entries(self, customer_id: str) -> list[PointsEntry]:
        """Oldest first: the customer's points ledger."""
        with self._database.session() as session:
            query = select(PointsEntry).where(PointsEntry.customer_id == customer_id)
            return list(session.exec(query.order_by(col(PointsEntry.id))).all())


def _not_expired(at: datetime) -> Any:
    return or_(col(PointsLot.expires_at).is_(None), col(PointsLot.expires_at) > at)


def _spendable(customer_id: str, at: datetime) -> tuple[Any, ...]:
    """Spendable at ``at`` whether or not settle has run: a pending lot past its
    ``active_at`` counts, a lot past its expiry does not."""
    return (
        col(PointsLot.customer_id) == customer_id,
        col(PointsLot.status).in_(_LIVE),
        col(PointsLot.remaining) > 0,
        col(PointsLot.active_at) <= at,
        _not_expired(at),
    )


def _lot_by_ref(session: Session, source_ref: str) -> PointsLot | None:
    return session.exec(select(PointsLot).where(PointsLot.source_ref == source_ref)).first()


def _redeemed(session: Session, customer_id: str, source_ref: str) -> int | None:
    """The points a redemption under ``source_ref`` spent, or None if it has not happened."""
    count, total = session.exec(
        select(func.count(), func.coalesce(func.sum(col(PointsEntry.amount)), 0)).where(
            col(PointsEntry.customer_id) == customer_id,
            col(PointsEntry.kind) == REDEEM,
            col(PointsEntry.source_ref) == source_ref,
        )
    ).one()
    return -int(total) if count else None


def _entry(
    lot: PointsLot, kind: str, amount: int, source_ref: str, reason: str, at: datetime
) -> PointsEntry:
    assert lot.id is not None, "a lot is flushed before its entries are written"
    return PointsEntry(
        customer_id=lot.customer_id,
        kind=kind,
        amount=amount,
        lot_id=lot.id,
        source_ref=source_ref,
        reason=reason,
        occurred_at=at,
    )
