"""Purchases and tiers in the store, on SQLite and PostgreSQL: each purchase counted once,
spend over a rolling window, each tier change reported once, downgrades by the review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from journeys.loyalty.program import LoyaltyProgram
from journeys.store import Store
from journeys.store.loyalty import TierChange
from journeys.store.loyalty_tables import Purchase
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


RULES = LoyaltyProgram().tiers  # member 0, silver 300, gold 1000, platinum 3000; 365 days
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def buy(store: Store, customer_id: str, amount: float, at: datetime, ref: str = "") -> None:
    ref = ref or f"{customer_id}/{at.isoformat()}/{amount}"
    store.loyalty.record_purchase(customer_id, amount, source_ref=ref, occurred_at=at)


def test_a_purchase_is_recorded_once_per_source_ref(store: Store) -> None:
    store.customers.upsert("c1", email="ana@example.com")
    row, new = store.loyalty.record_purchase(
        "c1", 19.999, source_ref="evt-1", occurred_at=T0, currency="EUR"
    )
    again, repeated = store.loyalty.record_purchase("c1", 50.0, source_ref="evt-1", occurred_at=T0)

    assert (new, repeated) == (True, False)
    assert again.id == row.id and again.amount == 20.0  # the stored row, not the repeat
    [stored] = store.loyalty.purchases_for("c1")
    assert (stored.amount, stored.currency, stored.occurred_at) == (20.0, "EUR", T0)
    assert store.customers.get("c1")["email"] == "ana@example.com"  # type: ignore[index]


def test_a_purchase_creates_a_missing_customer_and_refuses_negative_amounts(store: Store) -> None:
    store.loyalty.record_purchase("new", 10, source_ref="evt-1", occurred_at=T0)
    assert store.customers.get("new") is not None

    for amount in (-0.01, float("nan")):
        with pytest.raises(ValueError):
            store.loyalty.record_purchase(
                "other", amount, source_ref=f"bad-{amount}", occurred_at=T0
            )
    assert store.loyalty.purchases_for("other") == [] and store.customers.get("other") is None


def test_racing_repeats_of_one_purchase_store_it_once(store: Store) -> None:
    results = concurrently(
        8, lambda _: store.loyalty.record_purchase("c1", 10, source_ref="evt-1", occurred_at=T0)
    )
    assert sorted(new for _, new in results) == [False] * 7 + [True]
    assert len({row.id for row, _ in results}) == 1
    assert len(store.loyalty.purchases_for("c1")) == 1


def test_racing_first_purchases_of_a_new_customer_all_count(store: Store) -> None:
    results = concurrently(
        8, lambda i: store.loyalty.record_purchase("c1", 10, source_ref=f"evt-{i}", occurred_at=T0)
    )
    assert all(new for _, new in results)
    assert len(store.loyalty.purchases_for("c1")) == 8 and store.customers.get("c1") is not None


def test_spend_is_summed_over_the_rolling_window(store: Store) -> None:
    buy(store, "c1", 5000, T0 - 366 * DAY)  # too old
    buy(store, "c1", 5000, T0 - 365 * DAY)  # the window is (at - 365 days, at]
    buy(store, "c1", 5000, T0 + timedelta(seconds=1))  # after the evaluation
    buy(store, "c1", 100.1, T0 - 364 * DAY)
    buy(store, "c1", 199.9, T0)

    change = store.loyalty.evaluate_tier("c1", T0, RULES)

    assert change == TierChange("c1", "member", "silver", 300.0, "upgraded")
    state = store.loyalty.tier_of("c1")
    assert state is not None
    assert (state.tier, state.spend_12m, state.since, state.evaluated_at) == (
        "silver",
        300.0,
        T0,
        T0,
    )


def test_spend_reaches_a_threshold_whatever_the_float_sum(store: Store) -> None:
    with Session(store.engine) as session:  # 250 x 1.20 summed as floats is 299.99999...
        session.add_all(
            Purchase(customer_id="c1", amount=1.2, occurred_at=T0 - k * DAY, source_ref=str(k))
            for k in range(250)
        )
        session.commit()
    assert store.loyalty.evaluate_tier("c1", T0, RULES) == TierChange(
        "c1", "member", "silver", 300.0, "upgraded"
    )


def test_first_evaluation_at_the_lowest_tier_is_not_a_change(store: Store) -> None:
    buy(store, "c1", 120, T0 - DAY)
    assert store.loyalty.evaluate_tier("c1", T0, RULES) is None
    assert store.loyalty.evaluate_tier("nobody", T0, RULES) is None  # no purchase at all: member
    state = store.loyalty.tier_of("c1")
    assert state is not None and (state.tier, state.spend_12m, state.since) == ("member", 120, T0)


def test_an_upgrade_is_reported_once(store: Store) -> None:
    buy(store, "c1", 1200, T0 - DAY)
    assert store.loyalty.evaluate_tier("c1", T0, RULES) == TierChange(
        "c1", "member", "gold", 1200.0, "upgraded"
    )
    assert store.loyalty.evaluate_tier("c1", T0, RULES) is None
    assert store.loyalty.evaluate_tier("c1", T0 + DAY, RULES) is None
    # The change is in the event log, unrouted, committed with the tier itself.
    [event] = store.events.pending("c1")
    assert (event.name, event.properties, event.occurred_at) == (
        "tier.upgraded",
        {"previous_tier": "member", "new_tier": "gold", "spend": 1200.0},
        T0,
    )

    buy(store, "c1", 2000, T0 + 2 * DAY)
    assert store.loyalty.evaluate_tier("c1", T0 + 2 * DAY, RULES) == TierChange(
        "c1", "gold", "platinum", 3200.0, "upgraded"
    )
    state = store.loyalty.tier_of("c1")
    assert state is not None and (state.since, state.evaluated_at) == (T0 + 2 * DAY,) * 2

    buy(store, "c1", 10, T0 + 3 * DAY)  # no tier change: spend moves, since stays
    assert store.loyalty.evaluate_tier("c1", T0 + 3 * DAY, RULES) is None
    state = store.loyalty.tier_of("c1")
    assert state is not None
    assert (state.tier, state.spend_12m, state.since, state.evaluated_at) == (
        "platinum",
        3210.0,
        T0 + 2 * DAY,
        T0 + 3 * DAY,
    )


def test_racing_evaluations_report_one_change(store: Store) -> None:
    buy(store, "c1", 400, T0 - DAY)
    first = concurrently(8, lambda _: store.loyalty.evaluate_tier("c1", T0, RULES))  # no row yet
    assert [c for c in first if c] == [TierChange("c1", "member", "silver", 400.0, "upgraded")]

    buy(store, "c1", 800, T0)
    second = concurrently(8, lambda _: store.loyalty.evaluate_tier("c1", T0, RULES))  # row locked
    assert [c for c in second if c] == [TierChange("c1", "silver", "gold", 1200.0, "upgraded")]


def test_a_late_evaluation_does_not_turn_the_clock_back(store: Store) -> None:
    buy(store, "c1", 400, T0)
    assert store.loyalty.evaluate_tier("c1", T0, RULES) is not None
    assert store.loyalty.evaluate_tier("c1", T0 + 400 * DAY, RULES) == TierChange(
        "c1", "silver", "member", 0.0, "downgraded"
    )
    # A delayed event evaluated at its own (earlier) time: the purchase is long out.
    assert store.loyalty.evaluate_tier("c1", T0 + DAY, RULES) is None
    state = store.loyalty.tier_of("c1")
    assert state is not None and (state.tier, state.evaluated_at) == ("member", T0 + 400 * DAY)


def _five_customers(store: Store) -> None:
    """c1 silver and c3 gold keep their tier 100 days on; c2 (silver) and c4 (gold) see
    spend age out of the window; c5 stays a member; c25 bought but was never evaluated."""
    buy(store, "c1", 400, T0 - 10 * DAY)
    buy(store, "c2", 400, T0 - 300 * DAY)
    buy(store, "c3", 1200, T0 - 5 * DAY)
    buy(store, "c4", 1500, T0 - 270 * DAY)
    buy(store, "c4", 350, T0 - 10 * DAY)
    buy(store, "c5", 50, T0 - DAY)
    buy(store, "c25", 5000, T0 - DAY)
    for customer_id in ("c1", "c2", "c3", "c4", "c5"):
        store.loyalty.evaluate_tier(customer_id, T0, RULES)


def test_the_review_finds_downgrades_page_by_page(store: Store) -> None:
    _five_customers(store)
    later = T0 + 100 * DAY

    pages, after = [], ""
    while True:
        changes, after = store.loyalty.review_tiers(later, RULES, after=after, limit=2)
        pages.append((changes, after))
        if not after:
            break

    assert pages == [
        ([TierChange("c2", "silver", "member", 0.0, "downgraded")], "c2"),
        ([TierChange("c4", "gold", "silver", 350.0, "downgraded")], "c4"),
        ([], ""),
    ]
    assert store.loyalty.tier_of("c25") is None  # only customers with a tier are reviewed
    assert [store.loyalty.tier_of(f"c{n}").tier for n in range(1, 6)] == [  # type: ignore[union-attr]
        "silver",
        "member",
        "gold",
        "silver",
        "member",
    ]
    assert store.loyalty.review_tiers(later, RULES) == ([], "")  # nothing reported twice


def test_a_full_last_page_is_followed_by_an_empty_one(store: Store) -> None:
    _five_customers(store)
    changes, after = store.loyalty.review_tiers(T0 + 100 * DAY, RULES, limit=5)
    assert ([c.customer_id for c in changes], after) == (["c2", "c4"], "c5")
    assert store.loyalty.review_tiers(T0 + 100 * DAY, RULES, after=after, limit=5) == ([], "")
