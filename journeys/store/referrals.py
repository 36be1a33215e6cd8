"""Referrals: each customer's code, a friend signing up with it, and the completion on the
friend's first purchase.

* **Codes** are random (``secrets``), 8 characters from an alphabet without look-alikes
  (no 0/O, no 1/I), and stored: stable, unique (a unique key; a collision draws again),
  and not derivable from the customer id by anyone, with no secret key to keep or rotate.
  The first ask creates the code; two first asks at once give one (the primary key).
* **Recording** (``record``) refuses, changing nothing: an unknown code, a self-referral,
  a friend already referred by someone else (``friend_id`` is unique), a friend who
  already bought, a mutual referral, and a referrer at ``max_per_referrer``. The
  referrer's customer row is locked (PostgreSQL) for the count-then-insert, so the cap
  holds under concurrent sign-ups; SQLite serialises every transaction already.
* **Completion** (``complete_on_first_purchase``) runs inside the transaction that stores
  the friend's purchase (``journeys.store.loyalty.Loyalty.record_purchase``): the referral
  row is locked, moved to ``completed`` once, and a ``referral.completed`` event for each
  of the two customers is written to the event log with it, for the relay to route. A
  purchase stored twice is stored once, so it completes nothing twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.process.clock import utcnow
from journeys.store.engine import Database
from journeys.store.loyalty_tables import Purchase
from journeys.store.referral_tables import COMPLETED, PENDING, Referral, ReferralCode
from journeys.store.tables import Customer
from journeys.store.tracking_tables import derived_event

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "ReferralRefused",
    "Referrals",
    "complete_on_first_purchase",
    "normalise_code",
    "random_code",
]

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 40 bits in 8 characters
CODE_LENGTH = 8
COMPLETED_EVENT = "referral.completed"
_RETRIES = 5  # a unique-key conflict is a racing writer (or a drawn code already taken)

Reason = Literal[
    "unknown-code", "self-referral", "already-referred", "not-new", "mutual", "cap-reached"
]


class ReferralRefused(ValueError):
    """A referral that cannot be recorded; nothing was written. ``field`` names the input
    at fault (``code`` or ``customer_id``), ``reason`` says why, for the API's status."""

    def __init__(self, reason: Reason, field: str, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.field = field


@dataclass(frozen=True)
class ReferralSummary:
    """What ``GET /v1/customers/{id}/referral`` and ``customers show`` report."""

    code: str
    referred: int
    completed: int
    referred_by: str | None


def random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """As a person types it: any case, spaces and dashes ignored (``k7q2-m9xp``)."""
    return "".join(text.split()).replace("-", "").upper()


class Referrals:
    def __init__(self, database: Database, new_code: Callable[[], str] = random_code) -> None:
        self._database = database
        self._new_code = new_code  # tests draw colliding codes on purpose

    # Codes ----------------------------------------------------------------------------

    def code_for(self, customer_id: str) -> str:
        """The customer's code, created on first ask (with a blank customer if none)."""
        for _ in range(_RETRIES):
            with self._database.session() as session:
                row = session.get(ReferralCode, customer_id)
                if row is not None:
                    return row.code
                if session.get(Customer, customer_id) is None:
                    session.add(Customer(id=customer_id))
                row = ReferralCode(customer_id=customer_id, code=self._new_code())
                session.add(row)
                try:
                    session.commit()
                    return row.code
                except IntegrityError:  # a racing first ask, or a code already taken: again
                    session.rollback()
        raise RuntimeError(f"referral code of '{customer_id}' kept conflicting with others")

    def owner_of(self, code: str) -> str | None:
        with self._database.session() as session:
            row = session.exec(
                select(ReferralCode).where(ReferralCode.code == normalise_code(code))
            ).first()
            return row.customer_id if row else None

    # Referrals ------------------------------------------------------------------------

    def record(
        self, code: str, friend_id: str, *, max_per_referrer: int, at: datetime | None = None
    ) -> tuple[Referral, bool]:
        """Records that ``friend_id`` signed up with ``code``: (the row, True) when new,
        (the row, False) on the identical repeat. Raises ``ReferralRefused`` otherwise."""
        wanted = normalise_code(code)
        for _ in range(_RETRIES):
            with self._database.session() as session:
                owner = session.exec(
                    select(ReferralCode).where(ReferralCode.code == wanted)
                ).first()
                if owner is None:
                    raise ReferralRefused("unknown-code", "code", f"no referral code '{code}'")
                referrer_id = owner.customer_id
                if referrer_id == friend_id:
                    raise ReferralRefused(
                        "self-referral", "customer_id", "a customer cannot use their own code"
                    )
                # The referrer's row, locked: their referrals are counted and added one at a time.
                session.get(Customer, referrer_id, with_for_update=True)
                existing = _referral_of(session, friend_id)
                if existing is not None:
                    if existing.referrer_id == referrer_id:
                        return existing, False
                    raise ReferralRefused(
                        "already-referred",
                        "customer_id",
                        f"customer '{friend_id}' was already referred by another customer",
                    )
                _check_new(session, friend_id, referrer_id)
                if _referred_count(session, referrer_id) >= max_per_referrer:
                    raise ReferralRefused(
                        "cap-reached",
                        "code",
                        f"the owner of code '{code}' has referred {max_per_referrer} "
                        "friends, the most the program allows (referrals.max_per_referrer)",
                    )
                if session.get(Customer, friend_id) is None:
                    session.add(Customer(id=friend_id))
                row = Referral(
                    referrer_id=referrer_id,
                    friend_id=friend_id,
                    code=wanted,
                    created_at=at or utcnow(),
                )
                session.add(row)
                try:
                    session.commit()
                    return row, True
                except IntegrityError:  # the friend referred at this instant, or created
                    session.rollback()
        raise RuntimeError(f"referral of '{friend_id}' kept conflicting with other writers")

    def referral_of(self, friend_id: str) -> Referral | None:
        """Who referred this customer, if anyone."""
        with self._database.session() as session:
            return _referral_of(session, friend_id)

    def referred_by(self, referrer_id: str) -> list[Referral]:
        """The friends this customer referred, oldest first."""
        with self._database.session() as session:
            query = select(Referral).where(Referral.referrer_id == referrer_id)
            return list(session.exec(query.order_by(col(Referral.id))).all())

    def summary(self, customer_id: str) -> ReferralSummary:
        """The customer's code (created on first ask) and their referrals' counts."""
        code = self.code_for(customer_id)
        referred = self.referred_by(customer_id)
        by = self.referral_of(customer_id)
        return ReferralSummary(
            code=code,
            referred=len(referred),
            completed=sum(r.status == COMPLETED for r in referred),
            referred_by=by.referrer_id if by else None,
        )


def complete_on_first_purchase(session: Session, purchase: Purchase) -> Referral | None:
    """Completes the buyer's pending referral, in the caller's transaction, when
    ``purchase`` (flushed, not yet committed) is their first; the referral, if it did.

    A friend whose other purchase is already stored does not complete it: one stored
    while the referral was being recorded (the only way past ``record``'s check) came
    first. Both customers' ``referral.completed`` events are keyed by the referral, so
    even a second completion could not write them twice.
    """
    friend_id = purchase.customer_id
    referral = session.exec(
        select(Referral).where(Referral.friend_id == friend_id).with_for_update()
    ).first()
    if referral is None or referral.status != PENDING:
        return None
    earlier = session.exec(
        select(Purchase.id)
        .where(Purchase.customer_id == friend_id, Purchase.source_ref != purchase.source_ref)
        .limit(1)
    ).first()
    if earlier is not None:
        return None
    referral.status, referral.completed_at = COMPLETED, purchase.occurred_at
    referral.purchase_ref = purchase.source_ref
    session.add(referral)
    names = {
        customer_id: _first_name(session.get(Customer, customer_id))
        for customer_id in (referral.referrer_id, friend_id)
    }
    shared: dict[str, Any] = {
        "referral_id": referral.id,
        "code": referral.code,
        "referrer_id": referral.referrer_id,
        "referrer_first_name": names[referral.referrer_id],
        "friend_id": friend_id,
        "friend_first_name": names[friend_id],
        "purchase_amount": purchase.amount,
        "currency": purchase.currency,
    }
    for role, customer_id in (("referrer", referral.referrer_id), ("friend", friend_id)):
        session.add(  # routed by journeys.temporal.relay once the purchase commits
            derived_event(
                f"referral/{referral.id}/{role}",
                customer_id,
                COMPLETED_EVENT,
                {"role": role, **shared},
                purchase.occurred_at,
            )
        )
    return referral


def _referral_of(session: Session, friend_id: str) -> Referral | None:
    return session.exec(select(Referral).where(Referral.friend_id == friend_id)).first()


def _referred_count(session: Session, referrer_id: str) -> int:
    query = select(func.count()).select_from(Referral).where(Referral.referrer_id == referrer_id)
    return int(session.exec(query).one())


def _check_new(session: Session, friend_id: str, referrer_id: str) -> None:
    """A friend is new: no purchase yet, and not the one who referred their referrer."""
    bought = session.exec(select(Purchase.id).where(Purchase.customer_id == friend_id).limit(1))
    if bought.first() is not None:
        raise ReferralRefused(
            "not-new",
            "customer_id",
            f"customer '{friend_id}' has already made a purchase: only new customers "
            "can be referred",
        )
    mutual = _referral_of(session, referrer_id)
    if mutual is not None and mutual.referrer_id == friend_id:
        raise ReferralRefused(
            "mutual",
            "customer_id",
            f"customer '{friend_id}' referred the owner of this code: referrals cannot go "
            "both ways",
        )


def _first_name(customer: Customer | None) -> str | None:
    name = (customer.attributes or {}).get("first_name") if customer else None
    return name if isinstance(name, str) and name else None
