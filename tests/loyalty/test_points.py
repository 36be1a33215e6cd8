"""The points wallet on SQLite and PostgreSQL: exactly once by reference, earliest expiry
first, never overspent, and the ledger always adds up (property-based, against a model)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys.loyalty.program import Expiry, PointsRules
from journeys.store import Store
from journeys.store.loyalty_tables import ACTIVE, EARN, EXPIRE, EXPIRED, PENDING, REDEEM
from journeys.store.points import InsufficientPoints
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


T0 = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
NEVER = PointsRules(expiry=Expiry())
YEAR = PointsRules()  # the default: 365 days, active at once


def earn(
    wallet: Store, customer: str, points: int, ref: str, at: datetime, rules: PointsRules
) -> Any:
    return wallet.points.earn(
        customer, points, source_ref=ref, reason="purchase", at=at, rules=rules
    )


def redeem(wallet: Store, customer: str, points: int, ref: str, at: datetime) -> int:
    return wallet.points.redeem(customer, points, source_ref=ref, reason="reward", at=at)


def snapshot(wallet: Store, customer: str) -> tuple[list[Any], list[Any]]:
    lots = [(lot.id, lot.remaining, lot.status) for lot in wallet.points.lots(customer)]
    entries = [(e.kind, e.amount, e.lot_id, e.source_ref) for e in wallet.points.entries(customer)]
    return lots, entries


# Plain cases ----------------------------------------------------------------------------


def test_earning_is_once_per_reference_and_creates_the_customer(store: Store) -> None:
    lot = earn(store, "ghost", 120, "order-1", T0, YEAR)
    assert (lot.amount, lot.remaining, lot.status) == (120, 120, ACTIVE)
    # Gone at the end of the local (here UTC) day a year later, not at the hour earned.
    year_later = datetime(2028, 1, 11, tzinfo=UTC)
    assert (lot.earned_at, lot.active_at, lot.expires_at) == (T0, T0, year_later)
    assert store.customers.get("ghost") is not None  # purchases arrive before profiles
    again = earn(store, "ghost", 999, "order-1", T0 + timedelta(hours=1), NEVER)
    assert (again.id, again.amount, again.expires_at) == (lot.id, 120, lot.expires_at)
    [entry] = store.points.entries("ghost")
    assert (entry.kind, entry.amount, entry.lot_id, entry.source_ref) == (
        EARN,
        120,
        lot.id,
        "order-1",
    )
    with pytest.raises(ValueError, match="positive"):
        earn(store, "ghost", 0, "order-2", T0, YEAR)
    with pytest.raises(ValueError, match="no time zone"):
        earn(store, "ghost", 5, "order-3", T0.replace(tzinfo=None), YEAR)
    assert len(store.points.lots("ghost")) == 1


def test_racing_earns_make_one_lot_per_reference(store: Store) -> None:
    """Six attempts for a customer nobody created yet, two purchases: two lots, no error."""
    lots = concurrently(6, lambda i: earn(store, "new", 10 + i % 2, f"order-{i % 2}", T0, YEAR))
    assert {lot.id for lot in lots[0::2]} == {lots[0].id}
    assert {lot.id for lot in lots[1::2]} == {lots[1].id}
    assert len(store.points.lots("new")) == 2 and len(store.points.entries("new")) == 2
    assert store.points.summary("new", T0)["balance"] == 21


def test_points_expire_at_the_end_of_the_customers_month(store: Store) -> None:
    store.customers.upsert("c1", time_zone="America/Los_Angeles")
    month = PointsRules(expiry=Expiry(until_end_of="month"))
    earn(store, "c1", 100, "jan", datetime(2027, 1, 15, 12, tzinfo=UTC), month)
    # 05:00 UTC on 1 February is still 31 January in Los Angeles: January's lot.
    earn(store, "c1", 50, "jan-31-late", datetime(2027, 2, 1, 5, tzinfo=UTC), month)
    summary = store.points.summary("c1", datetime(2027, 2, 1, 7, tzinfo=UTC))
    assert summary["balance"] == 150 and summary["next_expiring_amount"] == 150
    # Local midnight starting 1 February; in UTC that instant is already 1 February.
    assert summary["next_expiring_at"] == datetime(2027, 2, 1, 8, tzinfo=UTC)
    assert summary["next_expiring_on"] == "2027-01-31"
    expiry = datetime(2027, 2, 1, 8, tzinfo=UTC)
    assert store.points.summary("c1", expiry)["balance"] == 0  # gone at that very instant
    with pytest.raises(InsufficientPoints):
        redeem(store, "c1", 1, "too-late", expiry)
    earn(store, "c1", 30, "feb", datetime(2027, 2, 1, 9, tzinfo=UTC), month)
    later = store.points.summary("c1", datetime(2027, 2, 1, 9, tzinfo=UTC))  # January gone
    assert (later["balance"], later["next_expiring_amount"]) == (30, 30)
    assert later["next_expiring_at"] == datetime(2027, 3, 1, 8, tzinfo=UTC)
    assert later["next_expiring_on"] == "2027-02-28"


def test_pending_points_are_spendable_only_once_active(store: Store) -> None:
    rules = PointsRules(pending=timedelta(days=14), expiry=Expiry(after=timedelta(days=90)))
    lot = earn(store, "c1", 80, "order-1", T0, rules)
    assert (lot.status, lot.active_at) == (PENDING, T0 + timedelta(days=14))
    summary = store.points.summary("c1", T0)
    assert (summary["balance"], summary["pending"], summary["earned"]) == (0, 80, 80)
    assert summary["next_expiring_at"] is None  # nothing spendable is expiring
    with pytest.raises(InsufficientPoints, match="only 0 points can be spent, 10 requested"):
        redeem(store, "c1", 10, "r1", T0 + timedelta(days=13))
    # Active from active_at even before the daily settle has flipped the status.
    assert redeem(store, "c1", 10, "r2", T0 + timedelta(days=14)) == 10
    assert store.points.settle(T0 + timedelta(days=14)) == (1, 0)
    [lot] = store.points.lots("c1")
    assert (lot.status, lot.remaining) == (ACTIVE, 70)


def test_settle_activates_and_expires_once(store: Store) -> None:
    short = PointsRules(expiry=Expiry(after=timedelta(days=1)))
    pending = PointsRules(pending=timedelta(days=1), expiry=Expiry())
    earn(store, "c1", 10, "kept", T0, NEVER)
    unused = earn(store, "c1", 40, "unused", T0, short)
    earn(store, "c2", 25, "spent", T0, short)
    earn(store, "c2", 15, "waiting", T0, pending)
    redeem(store, "c1", 5, "r1", T0)  # the never-expiring lot is spent last
    redeem(store, "c2", 25, "r2", T0)
    day = datetime(2027, 1, 12, tzinfo=UTC)  # the end of the day after T0's (UTC customers)
    before = snapshot(store, "c1"), snapshot(store, "c2")
    nothing_due = T0 + timedelta(hours=23)  # before "waiting" activates and "short" expires
    assert store.points.settle(nothing_due, batch=1) == (0, 0)
    assert (snapshot(store, "c1"), snapshot(store, "c2")) == before
    assert store.points.settle(day, batch=1) == (1, 35)  # three pages of one lot, one empty
    lots = {lot.source_ref: lot for c in ("c1", "c2") for lot in store.points.lots(c)}
    assert (lots["kept"].status, lots["kept"].remaining) == (ACTIVE, 10)
    assert (lots["unused"].status, lots["unused"].remaining) == (EXPIRED, 0)
    assert (lots["spent"].status, lots["spent"].remaining) == (EXPIRED, 0)
    assert (lots["waiting"].status, lots["waiting"].remaining) == (ACTIVE, 15)
    expiries = [e for c in ("c1", "c2") for e in store.points.entries(c) if e.kind == EXPIRE]
    assert [(e.amount, e.lot_id, e.source_ref) for e in expiries] == [
        (-35, unused.id, f"expire/{unused.id}")
    ]
    assert expiries[0].occurred_at == day
    after = snapshot(store, "c1"), snapshot(store, "c2")
    assert store.points.settle(day + timedelta(days=1)) == (0, 0)
    assert (snapshot(store, "c1"), snapshot(store, "c2")) == after
    summary = store.points.summary("c1", day)
    assert (summary["balance"], summary["earned"], summary["redeemed"], summary["expired"]) == (
        10,
        50,
        5,
        35,
    )


def test_redemption_spends_earliest_expiry_first_once_per_reference(store: Store) -> None:
    month = PointsRules(expiry=Expiry(until_end_of="month"))
    never = earn(store, "c1", 100, "never", T0, NEVER)
    late = earn(store, "c1", 50, "late", T0, PointsRules(expiry=Expiry(after=timedelta(days=60))))
    first = earn(store, "c1", 20, "month-a", T0, month)
    second = earn(store, "c1", 20, "month-b", T0, month)  # same instant: by id
    third = earn(store, "c1", 20, "month-c", T0 - timedelta(hours=1), month)  # earned earlier
    assert redeem(store, "c1", 70, "basket-1", T0) == 70
    spent = [(e.lot_id, e.amount) for e in store.points.entries("c1") if e.kind == REDEEM]
    assert spent == [(third.id, -20), (first.id, -20), (second.id, -20), (late.id, -10)]
    remaining = {lot.id: lot.remaining for lot in store.points.lots("c1")}
    assert (remaining[never.id], remaining[late.id]) == (100, 40)
    before = snapshot(store, "c1")
    assert redeem(store, "c1", 70, "basket-1", T0) == 70  # a retry spends nothing more
    assert redeem(store, "c1", 999, "basket-1", T0) == 70  # what the first attempt spent
    assert snapshot(store, "c1") == before
    with pytest.raises(InsufficientPoints, match="only 140 points can be spent, 141 requested"):
        redeem(store, "c1", 141, "basket-2", T0)
    assert snapshot(store, "c1") == before  # all or nothing
    with pytest.raises(ValueError, match="positive"):
        redeem(store, "c1", 0, "basket-3", T0)
    with pytest.raises(InsufficientPoints, match="only 0 points"):
        redeem(store, "nobody", 1, "basket-4", T0)
    assert store.customers.get("nobody") is None
    assert store.points.summary("nobody", T0) == {
        "balance": 0,
        "pending": 0,
        "next_expiring_amount": 0,
        "next_expiring_at": None,
        "next_expiring_on": None,
        "earned": 0,
        "redeemed": 0,
        "expired": 0,
    }


def test_racing_retries_of_one_redemption_spend_once(store: Store) -> None:
    """Lots the size of the redemption: a retry that missed the first attempt's entries
    would spend the next lot, not collide with the first on the same one."""
    for index, points in enumerate((30, 30, 40)):
        earn(store, "c1", points, f"order-{index}", T0 + timedelta(minutes=index), YEAR)
    results = concurrently(
        6, lambda i: redeem(store, "c1", 30, "basket-1", T0 + timedelta(hours=1))
    )
    assert results == [30] * 6
    assert store.points.summary("c1", T0 + timedelta(hours=1))["balance"] == 70
    assert sum(e.amount for e in store.points.entries("c1") if e.kind == REDEEM) == -30


# PostgreSQL only (through the module's ``store``): SQLite has one writer anyway.
@pytest.mark.parametrize("each_database_store", ["postgresql"], indirect=True)
def test_concurrent_redemptions_never_overspend(store: Store) -> None:
    for index, points in enumerate((40, 35, 25)):
        earn(store, "c1", points, f"order-{index}", T0 + timedelta(minutes=index), YEAR)

    def attempt(index: int) -> int | None:
        try:
            return redeem(store, "c1", 30, f"basket-{index}", T0 + timedelta(hours=1))
        except InsufficientPoints:
            return None

    results = concurrently(8, attempt)
    assert sorted(results, key=lambda r: r or 0) == [None] * 5 + [30] * 3  # 100 // 30
    assert store.points.summary("c1", T0 + timedelta(hours=1))["balance"] == 10
    assert all(lot.remaining >= 0 for lot in store.points.lots("c1"))
    assert sum(e.amount for e in store.points.entries("c1")) == 10


# The ledger against a model -------------------------------------------------------------

DAY = timedelta(days=1)
RULES = [  # mostly spendable at once, with expiries that differ: FIFO has choices to make
    NEVER,
    PointsRules(expiry=Expiry(after=DAY)),
    PointsRules(expiry=Expiry(after=3 * DAY)),
    PointsRules(expiry=Expiry(until_end_of="month")),
    PointsRules(pending=DAY, expiry=Expiry(after=5 * DAY)),
    PointsRules(pending=timedelta(hours=36), expiry=Expiry(after=DAY, until_end_of="month")),
    PointsRules(pending=3 * DAY, expiry=Expiry(after=2 * DAY)),  # expires before it is active
]
ZONES = [None, "UTC", "America/Los_Angeles", "Asia/Tokyo"]  # None: no profile before earning

AGAIN = st.sampled_from([False, False, False, True])  # True: the previous reference again
EARN_OP = st.tuples(st.just("earn"), st.integers(1, 50), st.sampled_from(RULES), AGAIN)
# A share of the spendable balance, in tenths: 11 and 12 ask for more than there is.
REDEEM_OP = st.tuples(st.just("redeem"), st.integers(1, 12), AGAIN)
# Whole days land exactly on expiries (``expires_at == now``: no longer spendable).
ADVANCE_OP = st.tuples(st.just("advance"), st.sampled_from([1, 6, 12, 24, 36, 48, 72]))
SETTLE_OP = st.tuples(st.just("settle"))
OPERATIONS = st.lists(
    st.one_of(EARN_OP, EARN_OP, EARN_OP, REDEEM_OP, REDEEM_OP, ADVANCE_OP, SETTLE_OP),
    min_size=6,
    max_size=20,
)


@dataclass
class Lot:
    ref: str
    amount: int
    remaining: int
    status: str
    earned_at: datetime
    active_at: datetime
    expires_at: datetime | None
    order: int

    def spendable(self, at: datetime) -> bool:
        alive = self.expires_at is None or self.expires_at > at
        return self.status != EXPIRED and self.remaining > 0 and self.active_at <= at and alive

    def fifo(self) -> tuple[Any, ...]:
        return (self.expires_at is None, self.expires_at or T0, self.earned_at, self.order)


@settings(
    max_examples=50,
    deadline=None,  # PostgreSQL round trips vary; the whole file stays in seconds
    database=None,  # no .hypothesis folder in the repository
    # The store fixture is per test, not per example: each example uses a fresh customer
    # id instead of a fresh database, so what earlier examples left behind is harmless.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    operations=OPERATIONS,
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 24 * 60).map(lambda hours: T0 + timedelta(hours=hours)),
)
def test_the_ledger_always_adds_up(
    store: Store,
    operations: list[tuple[Any, ...]],
    zone: str | None,
    start: datetime,
) -> None:
    customer = uuid.uuid4().hex
    if zone is not None:
        store.customers.upsert(customer, time_zone=zone)
    local = ZoneInfo(zone or "UTC")
    lots: dict[str, Lot] = {}
    redeemed: dict[str, int] = {}
    totals = {EARN: 0, REDEEM: 0, EXPIRE: 0}
    now = start
    refs = {"earn": f"{customer}/order-0", "redeem": f"{customer}/basket-0"}
    for step, operation in enumerate(operations):
        before = snapshot(store, customer)
        if operation[0] in refs and not operation[-1]:
            refs[operation[0]] = f"{customer}/{operation[0]}-{step}"
        if operation[0] == "earn":
            _, points, rules, _ = operation
            ref = refs["earn"]
            lot = earn(store, customer, points, ref, now, rules)
            if ref in lots:  # the same purchase again: nothing changes
                assert snapshot(store, customer) == before
                assert lot.amount == lots[ref].amount
                continue
            status = PENDING if rules.pending else ACTIVE
            expires = rules.expiry.expires_at(now, local)
            lots[ref] = Lot(ref, points, points, status, now, now + rules.pending, expires, lot.id)
            totals[EARN] += points
        elif operation[0] == "redeem":
            ref = refs["redeem"]
            usable = sorted((lot for lot in lots.values() if lot.spendable(now)), key=Lot.fifo)
            balance = sum(lot.remaining for lot in usable)
            points = max(1, balance * operation[1] // 10)
            if ref in redeemed:
                assert redeem(store, customer, points, ref, now) == redeemed[ref]
                assert snapshot(store, customer) == before
                continue
            if balance < points:
                with pytest.raises(InsufficientPoints):
                    redeem(store, customer, points, ref, now)
                assert snapshot(store, customer) == before
                continue
            assert redeem(store, customer, points, ref, now) == points
            check_fifo(store, customer, ref, usable)
            left = points
            for lot in usable:
                taken = min(left, lot.remaining)
                lot.remaining, left = lot.remaining - taken, left - taken
            redeemed[ref] = points
            totals[REDEEM] += points
        elif operation[0] == "settle":
            store.points.settle(now)
            for lot in lots.values():
                if lot.status != EXPIRED and lot.expires_at is not None and lot.expires_at <= now:
                    totals[EXPIRE] += lot.remaining
                    lot.status, lot.remaining = EXPIRED, 0
                elif lot.status == PENDING and lot.active_at <= now:
                    lot.status = ACTIVE
        else:
            now += timedelta(hours=operation[1])
        check(store, customer, now, lots, totals, settled=operation[0] == "settle")


def check_fifo(wallet: Store, customer: str, ref: str, usable: list[Lot]) -> None:
    """No lot expiring later was touched while one expiring earlier still has points."""
    stored = {lot.id: lot.remaining for lot in wallet.points.lots(customer)}
    touched = {e.lot_id for e in wallet.points.entries(customer) if e.source_ref == ref}
    deadline = max(lot.fifo()[:2] for lot in usable if lot.order in touched)
    assert all(stored[lot.order] == 0 for lot in usable if lot.fifo()[:2] < deadline)


def check(
    wallet: Store,
    customer: str,
    now: datetime,
    lots: dict[str, Lot],
    totals: dict[str, int],
    *,
    settled: bool,
) -> None:
    stored = wallet.points.lots(customer)
    assert {lot.source_ref: (lot.remaining, lot.status) for lot in stored} == {
        ref: (lot.remaining, lot.status) for ref, lot in lots.items()
    }
    assert all(lot.remaining >= 0 for lot in stored)
    summary = wallet.points.summary(customer, now)
    earned, spent, expired = totals[EARN], totals[REDEEM], totals[EXPIRE]
    assert (summary["earned"], summary["redeemed"], summary["expired"]) == (earned, spent, expired)
    usable = [lot for lot in lots.values() if lot.spendable(now)]
    assert summary["balance"] == sum(lot.remaining for lot in usable) >= 0
    # Every point earned is still in a lot, or was redeemed, or expired.
    assert sum(lot.remaining for lot in stored) == earned - spent - expired
    assert sum(e.amount for e in wallet.points.entries(customer)) == earned - spent - expired
    if settled:  # nothing past its expiry is left: what is not spendable yet is pending
        assert summary["balance"] + summary["pending"] == earned - spent - expired
    expiring = [lot for lot in usable if lot.expires_at is not None]
    first = min((lot.expires_at for lot in expiring if lot.expires_at), default=None)
    assert summary["next_expiring_at"] == first
    amount = sum(lot.remaining for lot in expiring if lot.expires_at == first)
    assert summary["next_expiring_amount"] == amount
