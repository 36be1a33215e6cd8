"""Coupons: issue once per source reference, redeem and return once per order, import pools.

The rules that keep coupons honest under retries and concurrency:

* **Issued once by ``source_ref``** (the journey step key): a retried activity or a racing
  duplicate (caught as ``IntegrityError``) finds the coupon the first attempt issued.
* **The per-customer limit holds under concurrency.** Issuing locks the customer row
  (PostgreSQL ``FOR UPDATE``; SQLite serialises every transaction already), then counts
  the customer's coupons of the offer: two journeys issuing at the same instant are
  serialised, and the second sees the first's coupon.
* **A pool code is handed out once.** The take locks the first free row and skips rows
  other transactions hold (``FOR UPDATE SKIP LOCKED``): concurrent takes get different
  codes without waiting on each other.
* **Redeemed and returned once per order.** ``coupon_redemptions`` is unique per (coupon,
  order): the same order again gets the same answer and changes nothing. The coupon row is
  locked for the decision, so two orders racing for one coupon get one redemption.
* ``coupon.redeemed`` / ``coupon.returned`` are written to the event log in the same
  transaction as the change, unrouted, for the relay to route (like ``tier.upgraded``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.loyalty.coupon_codes import CouponCodes, normalize_code
from journeys.model.coupon_contracts import CouponKind, IssuedCoupon
from journeys.model.local_time import local_moment
from journeys.store.coupon_tables import (
    EXPIRED,
    ISSUED,
    REDEEMED,
    Coupon,
    CouponCodeKey,
    CouponRedemption,
    PoolCode,
)
from journeys.store.engine import Database
from journeys.store.moments import aware_utc, customer_zone
from journeys.store.tables import Customer
from journeys.store.tracking_tables import derived_event

_RETRIES = 5
_CHUNK = 500  # codes per IN (...) query: far below every database's parameter limit


class CouponNotFound(LookupError):
    """No coupon has this code."""


class CouponRefused(ValueError):
    """The coupon cannot be redeemed or returned as asked; ``str()`` says why. Nothing
    was changed."""


class PoolEmpty(RuntimeError):
    """The pool has no unused code left: import more (``journeys coupons import``)."""


@dataclass(frozen=True)
class Worth:
    kind: CouponKind
    percent: int | None = None
    value_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Issue:
    """What a coupon step asks for (``activities.coupons`` builds it)."""

    source_ref: str
    customer_id: str
    offer: str
    worth: Worth
    valid_for: timedelta
    at: datetime
    per_customer: int | None = None
    pool: str | None = None


@dataclass
class ImportReport:
    """``added`` new codes, ``already`` in this pool before (a re-import), ``problems``
    as ``(source, sentence)``: with any problem, nothing was imported."""

    added: int = 0
    already: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


class Coupons:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._codes: CouponCodes | None = None

    # Issue ----------------------------------------------------------------------------

    def issue(self, request: Issue) -> tuple[IssuedCoupon | None, str]:
        """The coupon for ``request.source_ref`` (issued now, or by an earlier attempt),
        or ``(None, reason)`` when the customer holds ``per_customer`` coupons of the offer
        already. Raises ``PoolEmpty`` when the pool has no code left (nothing is written)."""
        at = aware_utc(request.at, "coupon")
        codes = self._code_maker()
        for _ in range(_RETRIES):  # a conflict is a racing duplicate or a racing new customer
            with self._database.session() as session:
                done = _by_ref(session, request.source_ref)
                if done is not None:
                    return _issued(done, customer_zone(session.get(Customer, done.customer_id))), ""
                try:
                    outcome = _issue_in(session, request, at, codes)
                    if outcome[0] is not None:
                        session.commit()
                except IntegrityError:  # a racing duplicate or new customer: look again
                    session.rollback()
                    continue
                return outcome
        raise RuntimeError(f"issuing '{request.source_ref}' kept conflicting with other writers")

    def _code_maker(self) -> CouponCodes:
        """The database's code key, made on first use (the first insert wins a race)."""
        if self._codes is None:
            with self._database.session() as session:
                row = session.get(CouponCodeKey, 1)
                if row is None:
                    session.add(CouponCodeKey(id=1, key=secrets.token_hex(32)))
                    try:
                        session.commit()
                    except IntegrityError:
                        session.rollback()
                    row = session.get(CouponCodeKey, 1)
                assert row is not None
                self._codes = CouponCodes(bytes.fromhex(row.key))
        return self._codes

    # Redeem and return ----------------------------------------------------------------

    def redeem(
        self,
        code: str,
        *,
        customer_id: str,
        order_id: str,
        at: datetime,
        amount_cents: int | None = None,
    ) -> Coupon:
        """Marks the coupon redeemed by ``order_id`` and emits ``coupon.redeemed``; the same
        order again returns the coupon and changes nothing. Raises ``CouponNotFound``, or
        ``CouponRefused`` (another customer's, redeemed by another order, expired)."""
        at = aware_utc(at, "coupon")
        for _ in range(_RETRIES):
            with self._database.session() as session:
                coupon = _locked(session, code)
                if coupon.customer_id != customer_id:
                    raise CouponRefused("the coupon belongs to another customer")
                earlier = _redemption(session, coupon, order_id)
                if earlier is not None:
                    if earlier.returned_at is not None:
                        raise CouponRefused(
                            "this order's redemption of the coupon was returned: "
                            "a new redemption needs a new order_id"
                        )
                    return coupon
                if coupon.status == REDEEMED:
                    raise CouponRefused(
                        f"the coupon was already redeemed by another order "
                        f"on {coupon.redeemed_at:%Y-%m-%d}"
                    )
                if at >= coupon.expires_at:
                    raise CouponRefused(f"the coupon expired at {coupon.expires_at.isoformat()}")
                assert coupon.id is not None
                session.add(
                    CouponRedemption(
                        coupon_id=coupon.id, order_id=order_id, amount_cents=amount_cents,
                        redeemed_at=at,
                    )
                )  # fmt: skip
                coupon.status, coupon.redeemed_at = REDEEMED, at
                coupon.order_id, coupon.order_amount_cents = order_id, amount_cents
                session.add(coupon)
                properties = {**_event_properties(coupon), "order_id": order_id}
                if amount_cents is not None:
                    properties["amount"] = float(_money(amount_cents))
                session.add(
                    derived_event(
                        _event_id("coupon.redeemed", coupon.id, order_id),
                        coupon.customer_id, "coupon.redeemed", properties, at,
                    )
                )  # fmt: skip
                try:
                    session.commit()
                except IntegrityError:  # a racing redemption of the same order: look again
                    session.rollback()
                    continue
                return coupon
        raise RuntimeError(f"redeeming coupon '{code}' kept conflicting with other writers")

    def return_(self, code: str, *, order_id: str, at: datetime) -> Coupon:
        """The order was cancelled: its redemption is returned, the coupon is usable again
        until it expires, and ``coupon.returned`` is emitted. Returning again changes
        nothing. Raises ``CouponNotFound``, or ``CouponRefused`` when that order did not
        redeem the coupon."""
        at = aware_utc(at, "coupon")
        with self._database.session() as session:
            coupon = _locked(session, code)
            redemption = _redemption(session, coupon, order_id)
            if redemption is None:
                raise CouponRefused("this order did not redeem the coupon")
            if redemption.returned_at is not None:
                return coupon
            redemption.returned_at = at
            session.add(redemption)
            coupon.status, coupon.redeemed_at = ISSUED, None
            coupon.order_id = coupon.order_amount_cents = None
            session.add(coupon)
            assert coupon.id is not None
            session.add(
                derived_event(
                    _event_id("coupon.returned", coupon.id, order_id),
                    coupon.customer_id, "coupon.returned",
                    {**_event_properties(coupon), "order_id": order_id}, at,
                )
            )  # fmt: skip
            session.commit()
            return coupon

    # Reads ----------------------------------------------------------------------------

    def get(self, code: str) -> Coupon | None:
        with self._database.session() as session:
            query = select(Coupon).where(col(Coupon.code) == normalize_code(code))
            return session.exec(query).first()

    def for_customer(self, customer_id: str, limit: int = 500) -> list[Coupon]:
        """The customer's coupons, newest first."""
        with self._database.session() as session:
            query = (
                select(Coupon)
                .where(col(Coupon.customer_id) == customer_id)
                .order_by(col(Coupon.issued_at).desc(), col(Coupon.id).desc())
                .limit(limit)
            )
            return list(session.exec(query).all())

    def view(self, coupon: Coupon, at: datetime) -> dict[str, Any]:
        """A coupon as the API and the CLI show it, ``status`` as of ``at``."""
        return self.views([coupon], at)[0]

    def views(self, coupons: Sequence[Coupon], at: datetime) -> list[dict[str, Any]]:
        """Coupons as shown, their customers' zones read in one query (``expires_on``)."""
        ids = sorted({coupon.customer_id for coupon in coupons})
        with self._database.session() as session:
            zones = {}
            for chunk in _chunks(ids):
                query = select(Customer).where(col(Customer.id).in_(chunk))
                zones.update({c.id: customer_zone(c) for c in session.exec(query)})
        at = aware_utc(at, "coupon")
        return [
            _view(coupon, zones.get(coupon.customer_id) or customer_zone(None), at)
            for coupon in coupons
        ]

    def pool_counts(self, pool: str) -> tuple[int, int]:
        """(codes imported, codes still free) in ``pool``."""
        with self._database.session() as session:
            where = col(PoolCode.pool) == pool
            total = session.exec(select(func.count()).where(where)).one()
            free = session.exec(
                select(func.count()).where(where, col(PoolCode.coupon_id).is_(None))
            ).one()
            return int(total), int(free)

    # Pools ----------------------------------------------------------------------------

    def import_pool(
        self, pool: str, codes: Sequence[tuple[str, str]], at: datetime
    ) -> ImportReport:
        """Adds ``(code, source)`` pairs (normalized, checked by the caller) to ``pool`` in
        one transaction. A code already in this pool is counted, not added (re-importing a
        file is harmless); one in another pool or already issued is a problem, and with any
        problem nothing is imported."""
        report = ImportReport()
        at = aware_utc(at, "coupon")
        with self._database.session() as session:
            known: dict[str, str] = {}  # code -> its pool
            issued: set[str] = set()
            all_codes = [code for code, _ in codes]
            for chunk in _chunks(all_codes):
                query = select(PoolCode.code, PoolCode.pool).where(col(PoolCode.code).in_(chunk))
                known.update(dict(session.exec(query).all()))
                issued.update(session.exec(select(Coupon.code).where(col(Coupon.code).in_(chunk))))
            fresh: list[PoolCode] = []
            for code, source in codes:
                if code in known:
                    if known[code] == pool:
                        report.already += 1
                    else:
                        why = f"'{code}' is already in pool '{known[code]}'"
                        report.problems.append((source, why))
                elif code in issued:
                    why = f"'{code}' is already an issued coupon's code"
                    report.problems.append((source, why))
                else:
                    fresh.append(PoolCode(pool=pool, code=code, source=source, imported_at=at))
            if report.problems:
                return report
            session.add_all(fresh)
            try:
                session.commit()
            except IntegrityError:  # a racing import of the same codes: nothing was added
                session.rollback()
                why = "another import added some of these codes meanwhile: run it again"
                report.problems.append(("", why))
                return report
            report.added = len(fresh)
            return report


def _issue_in(
    session: Session, request: Issue, at: datetime, codes: CouponCodes
) -> tuple[IssuedCoupon | None, str]:
    """The issue's transaction, up to its commit: lock the customer, count, insert, code."""
    customer = session.get(Customer, request.customer_id, with_for_update=True)
    if customer is None:
        customer = Customer(id=request.customer_id)
        session.add(customer)
        session.flush()  # a racing new customer fails here, and the caller looks again
    if request.per_customer is not None:
        held = _count(session, request.customer_id, request.offer)
        if held >= request.per_customer:
            return None, (
                f"limit reached: the customer already has {held} coupon(s) of "
                f"offer '{request.offer}' (at most {request.per_customer})"
            )
    zone = customer_zone(customer)
    coupon = _new_coupon(request, at, zone)
    session.add(coupon)
    session.flush()  # the id, which the code is made from
    assert coupon.id is not None
    if request.pool is not None:
        coupon.code = _take(session, request.pool, coupon.id)
    else:
        coupon.code = _fresh_code(session, codes, coupon.id)
    session.add(coupon)  # written by the caller's commit
    return _issued(coupon, zone), ""


def _view(coupon: Coupon, zone: ZoneInfo, at: datetime) -> dict[str, Any]:
    amount = coupon.order_amount_cents
    return {
        **_issued(coupon, zone).model_dump(mode="json"),
        "customer_id": coupon.customer_id,
        "status": status_at(coupon, at),
        "pool": coupon.pool,
        "redeemed_at": coupon.redeemed_at.isoformat() if coupon.redeemed_at else None,
        "order_id": coupon.order_id,
        "order_amount": str(_money(amount)) if amount is not None else None,
    }


def status_at(coupon: Coupon, at: datetime) -> str:
    """``redeemed``, ``expired`` (unredeemed past ``expires_at``) or ``issued``."""
    if coupon.status == REDEEMED:
        return REDEEMED
    return EXPIRED if at >= coupon.expires_at else ISSUED


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _money(amount_cents: int) -> Decimal:
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


def _new_coupon(request: Issue, at: datetime, zone: ZoneInfo) -> Coupon:
    """Valid through the local day ``valid_for`` after issue, gone at the next local
    midnight (like points): "valid 30 days" never ends at the hour it was issued."""
    last_day = (at + request.valid_for).astimezone(zone).date()
    worth = request.worth
    return Coupon(
        customer_id=request.customer_id,
        offer=request.offer,
        kind=worth.kind,
        percent=worth.percent,
        value_cents=worth.value_cents,
        currency=worth.currency,
        pool=request.pool,
        issued_at=at,
        expires_at=local_moment(last_day + timedelta(days=1), time(0), zone),
        source_ref=request.source_ref,
    )


def _issued(coupon: Coupon, zone: ZoneInfo) -> IssuedCoupon:
    assert coupon.code is not None
    return IssuedCoupon(
        code=coupon.code,
        offer=coupon.offer,
        kind=coupon.kind,  # type: ignore[arg-type]
        percent=coupon.percent,
        value=_money(coupon.value_cents) if coupon.value_cents is not None else None,
        currency=coupon.currency,
        issued_at=coupon.issued_at,
        expires_at=coupon.expires_at,
        expires_on=(coupon.expires_at - timedelta(microseconds=1)).astimezone(zone).date(),
    )


def _event_properties(coupon: Coupon) -> dict[str, Any]:
    properties: dict[str, Any] = {"code": coupon.code, "offer": coupon.offer, "kind": coupon.kind}
    if coupon.percent is not None:
        properties["percent"] = coupon.percent
    if coupon.value_cents is not None:
        properties["value"] = float(_money(coupon.value_cents))
        properties["currency"] = coupon.currency
    return properties


def _event_id(name: str, coupon_id: int, order_id: str) -> str:
    """One event per (coupon, order): an order id of any length keeps the id short."""
    digest = hashlib.sha256(order_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{name}:{coupon_id}:{digest}"


def _by_ref(session: Session, source_ref: str) -> Coupon | None:
    return session.exec(select(Coupon).where(col(Coupon.source_ref) == source_ref)).first()


def _count(session: Session, customer_id: str, offer: str) -> int:
    query = select(func.count()).where(
        col(Coupon.customer_id) == customer_id, col(Coupon.offer) == offer
    )
    return int(session.exec(query).one())


def _locked(session: Session, code: str) -> Coupon:
    query = select(Coupon).where(col(Coupon.code) == normalize_code(code)).with_for_update()
    coupon = session.exec(query).first()
    if coupon is None:
        raise CouponNotFound(f"no coupon has the code '{normalize_code(code)}'")
    return coupon


def _redemption(session: Session, coupon: Coupon, order_id: str) -> CouponRedemption | None:
    query = select(CouponRedemption).where(
        col(CouponRedemption.coupon_id) == coupon.id, col(CouponRedemption.order_id) == order_id
    )
    return session.exec(query).first()


def _take(session: Session, pool: str, coupon_id: int) -> str:
    query = (
        select(PoolCode)
        .where(col(PoolCode.pool) == pool, col(PoolCode.coupon_id).is_(None))
        .order_by(col(PoolCode.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    taken = session.exec(query).first()
    if taken is None:
        raise PoolEmpty(
            f"pool '{pool}' has no unused code left: import more with "
            f"`journeys coupons import FILE --pool {pool}`"
        )
    taken.coupon_id = coupon_id
    session.add(taken)
    return taken.code


def _fresh_code(session: Session, codes: CouponCodes, number: int) -> str:
    """The id's code, or the next variant when an imported pool holds that text already."""
    for attempt in range(100):
        code = codes.code(number, attempt)
        if session.exec(select(PoolCode.id).where(col(PoolCode.code) == code)).first() is None:
            return code
    raise RuntimeError(f"no free code for coupon {number} after 100 attempts")


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
