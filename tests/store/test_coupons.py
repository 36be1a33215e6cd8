"""Coupons on SQLite and PostgreSQL: issued once per source reference, the per-customer
limit and pool takes under concurrency, redemptions once per order, returns, expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from journeys.loyalty.coupon_codes import ALPHABET, MIN_LENGTH
from journeys.store import Store
from journeys.store.coupons import CouponNotFound, CouponRefused, Issue, PoolEmpty, Worth
from tests.races import concurrently

T0 = datetime(2027, 3, 3, 17, 0, tzinfo=UTC)  # 18:00 in Paris
PERCENT = Worth(kind="percent", percent=15)


@pytest.fixture
def store(each_database_store: Store) -> Store:
    return each_database_store


def issue(store: Store, ref: str, customer: str = "c1", **changes: Any) -> Any:
    values: dict[str, Any] = {
        "source_ref": ref,
        "customer_id": customer,
        "offer": "winback-15",
        "worth": PERCENT,
        "valid_for": timedelta(days=30),
        "at": T0,
    }
    return store.coupons.issue(Issue(**{**values, **changes}))


def event_names(store: Store, customer: str) -> list[str]:
    return sorted(e.name for e in store.events.for_customer(customer))


def test_a_source_reference_issues_one_coupon(store: Store) -> None:
    first, _ = issue(store, "journey:win-back:c1:e1:voucher")
    again, _ = issue(store, "journey:win-back:c1:e1:voucher", at=T0 + timedelta(hours=2))
    assert first is not None and again == first
    assert len(store.coupons.for_customer("c1")) == 1


@pytest.mark.parametrize("each_database_store", ["postgresql"], indirect=True)
def test_racing_duplicates_of_one_reference_issue_one_coupon(store: Store) -> None:
    results = concurrently(6, lambda _: issue(store, "ref-1")[0].code)
    assert len(set(results)) == 1
    assert len(store.coupons.for_customer("c1")) == 1


def test_generated_codes_are_unique_short_and_not_in_order(store: Store) -> None:
    codes = [issue(store, f"ref-{i}")[0].code for i in range(40)]
    assert len(set(codes)) == 40
    assert all(len(code) >= MIN_LENGTH and set(code) <= set(ALPHABET) for code in codes)
    # consecutive ids share no long prefix (the alphabet is shuffled, sqids spreads them)
    assert len({code[:3] for code in codes}) > 30


def test_the_per_customer_limit_counts_across_entries_and_scenarios(store: Store) -> None:
    first, _ = issue(store, "scenario-a/entry-1", per_customer=1)
    second, reason = issue(store, "scenario-b/entry-9", per_customer=1)
    assert first is not None and second is None
    assert "limit reached" in reason and "winback-15" in reason
    other_offer, _ = issue(store, "scenario-b/entry-9", per_customer=1, offer="birthday-5")
    other_customer, _ = issue(store, "scenario-a/entry-2", customer="c2", per_customer=1)
    assert other_offer is not None and other_customer is not None


@pytest.mark.parametrize("each_database_store", ["postgresql"], indirect=True)
def test_the_per_customer_limit_holds_under_concurrency(store: Store) -> None:
    results = concurrently(8, lambda i: issue(store, f"entry-{i}", per_customer=2)[0])
    assert sum(result is not None for result in results) == 2
    assert len(store.coupons.for_customer("c1")) == 2


def test_a_coupon_expires_at_the_end_of_a_local_day(store: Store) -> None:
    store.customers.identify(
        "paris", profile={"time_zone": "Europe/Paris"}, attributes={}, source="test"
    )
    coupon, _ = issue(store, "ref", customer="paris", valid_for=timedelta(days=20))
    assert coupon.expires_on == date(2027, 3, 23)  # issued 3 March at 18:00 Paris time
    assert coupon.expires_at == datetime(2027, 3, 23, 23, 0, tzinfo=UTC)  # 24 March 00:00


def test_a_pool_hands_out_its_codes_then_says_it_is_empty(store: Store) -> None:
    report = store.coupons.import_pool("summer", [("SUMMER-A1", "f:1"), ("SUMMER-B2", "f:2")], T0)
    assert (report.added, report.problems) == (2, [])
    codes = [issue(store, f"ref-{i}", pool="summer")[0].code for i in range(2)]
    assert codes == ["SUMMER-A1", "SUMMER-B2"]
    with pytest.raises(PoolEmpty, match="pool 'summer' has no unused code left"):
        issue(store, "ref-3", pool="summer")
    assert len(store.coupons.for_customer("c1")) == 2  # the failed take wrote nothing
    assert store.coupons.pool_counts("summer") == (2, 0)


@pytest.mark.parametrize("each_database_store", ["postgresql"], indirect=True)
def test_concurrent_pool_takes_never_hand_out_a_code_twice(store: Store) -> None:
    codes = [(f"CODE-{i:03d}", f"f:{i}") for i in range(5)]
    store.coupons.import_pool("summer", codes, T0)

    def take(index: int) -> str | None:
        try:
            return issue(store, f"ref-{index}", customer=f"c{index}", pool="summer")[0].code
        except PoolEmpty:
            return None

    results = concurrently(8, take)
    taken = [code for code in results if code is not None]
    assert sorted(taken) == [code for code, _ in codes]
    assert results.count(None) == 3


def test_reimporting_a_pool_is_harmless_and_conflicts_import_nothing(store: Store) -> None:
    store.coupons.import_pool("summer", [("CODE-1", "a:1"), ("CODE-2", "a:2")], T0)
    again = store.coupons.import_pool("summer", [("CODE-1", "a:1"), ("CODE-3", "a:3")], T0)
    assert (again.added, again.already, again.problems) == (1, 1, [])
    clash = store.coupons.import_pool("winter", [("CODE-4", "b:1"), ("CODE-2", "b:2")], T0)
    assert clash.added == 0
    assert clash.problems == [("b:2", "'CODE-2' is already in pool 'summer'")]
    assert store.coupons.pool_counts("winter") == (0, 0)


def test_redeeming_is_idempotent_by_order(store: Store) -> None:
    coupon, _ = issue(store, "ref")
    at = T0 + timedelta(days=2)
    first = store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-1", at=at)
    again = store.coupons.redeem(
        coupon.code.lower(), customer_id="c1", order_id="o-1", at=at + timedelta(hours=1)
    )
    assert first.status == again.status == "redeemed"
    assert again.redeemed_at == at and again.order_id == "o-1"
    assert event_names(store, "c1") == ["coupon.redeemed"]
    [event] = store.events.for_customer("c1")
    assert event.properties == {
        "code": coupon.code, "offer": "winback-15", "kind": "percent", "percent": 15,
        "order_id": "o-1",
    }  # fmt: skip


def test_redemptions_that_are_refused_change_nothing(store: Store) -> None:
    coupon, _ = issue(store, "ref")
    at = T0 + timedelta(days=1)
    with pytest.raises(CouponNotFound):
        store.coupons.redeem("NOPE1234", customer_id="c1", order_id="o-1", at=at)
    with pytest.raises(CouponRefused, match="belongs to another customer"):
        store.coupons.redeem(coupon.code, customer_id="c2", order_id="o-1", at=at)
    with pytest.raises(CouponRefused, match="expired"):
        store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-1", at=coupon.expires_at)
    assert store.coupons.get(coupon.code).status == "issued"
    store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-1", at=at)
    with pytest.raises(CouponRefused, match="already redeemed by another order"):
        store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-2", at=at)
    assert store.coupons.get(coupon.code).order_id == "o-1"
    assert event_names(store, "c1") == ["coupon.redeemed"]


def test_a_returned_coupon_can_be_used_again_by_another_order(store: Store) -> None:
    coupon, _ = issue(store, "ref")
    at = T0 + timedelta(days=1)
    store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-1", at=at)
    with pytest.raises(CouponRefused, match="this order did not redeem"):
        store.coupons.return_(coupon.code, order_id="o-9", at=at)
    returned = store.coupons.return_(coupon.code, order_id="o-1", at=at + timedelta(hours=1))
    again = store.coupons.return_(coupon.code, order_id="o-1", at=at + timedelta(hours=2))
    assert returned.status == again.status == "issued" and again.order_id is None
    assert event_names(store, "c1") == ["coupon.redeemed", "coupon.returned"]
    with pytest.raises(CouponRefused, match="was returned"):  # a late retry of o-1
        store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-1", at=at)
    store.coupons.redeem(coupon.code, customer_id="c1", order_id="o-2", at=at)
    assert store.coupons.get(coupon.code).order_id == "o-2"


@pytest.mark.parametrize("each_database_store", ["postgresql"], indirect=True)
def test_two_orders_racing_for_one_coupon_get_one_redemption(store: Store) -> None:
    coupon, _ = issue(store, "ref")

    def redeem(index: int) -> str | None:
        try:
            found = store.coupons.redeem(
                coupon.code, customer_id="c1", order_id=f"o-{index}", at=T0
            )
            return found.order_id
        except CouponRefused:
            return None

    results = concurrently(6, redeem)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and store.coupons.get(coupon.code).order_id == winners[0]
    assert event_names(store, "c1") == ["coupon.redeemed"]


def test_status_reads_expired_without_a_job(store: Store) -> None:
    coupon, _ = issue(store, "ref")
    row = store.coupons.get(coupon.code)
    assert store.coupons.view(row, T0)["status"] == "issued"
    assert store.coupons.view(row, coupon.expires_at)["status"] == "expired"
