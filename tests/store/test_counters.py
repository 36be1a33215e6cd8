"""Counters and badges in the store, on SQLite and PostgreSQL: once per event id, in order,
race-free, windowed at the right edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.loyalty.counters import CounterRule
from journeys.model.events import Event
from journeys.store import Store
from tests.races import concurrently

T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # pinned: no test depends on today
DAY = timedelta(days=1)
RULES = {
    "visits": CounterRule(event="store.visit"),
    "purchases_30d": CounterRule(event="purchase", window=30 * DAY),
}


@pytest.fixture
def store(each_database_store: Store) -> Store:
    return each_database_store


def event(event_id: str, name: str = "store.visit", at: datetime = T0, who: str = "c1") -> Event:
    return Event(id=event_id, name=name, customer_id=who, occurred_at=at)


def test_each_event_counts_once_and_a_recount_returns_its_stored_ordinal(store: Store) -> None:
    assert store.counters.count(event("v1"), RULES) == {"purchases_30d": 0, "visits": 1}
    assert store.counters.count(event("v2"), RULES)["visits"] == 2
    assert store.counters.count(event("v3"), RULES)["visits"] == 3

    again = store.counters.count(event("v1", at=T0 + DAY), RULES)  # routed again, later

    assert again["visits"] == 1  # its own ordinal, not 4
    rows = store.counters.counted("c1", "visits")
    assert [(r.event_id, r.ordinal) for r in rows] == [("v1", 1), ("v2", 2), ("v3", 3)]
    assert store.counters.current("c1", RULES, T0)["visits"] == 3


def test_counts_are_per_customer_and_per_counter(store: Store) -> None:
    store.counters.count(event("v1"), RULES)
    store.counters.count(event("v1", who="c2"), RULES)  # the same id for another customer
    assert store.counters.count(event("p1", "purchase"), RULES) == {
        "purchases_30d": 1,
        "visits": 1,  # as of the purchase: the visit before it
    }
    assert store.counters.current("c2", RULES, T0) == {"purchases_30d": 0, "visits": 1}
    assert store.counters.count(event("x1", "cart.updated"), RULES) == {
        "purchases_30d": 1,
        "visits": 1,
    }
    assert store.counters.counted("c1", "purchases_30d")[0].event_id == "p1"


def test_windowed_ordinal_counts_the_window_ending_at_the_event(store: Store) -> None:
    first = T0
    assert store.counters.count(event("p1", "purchase", first), RULES)["purchases_30d"] == 1
    just_inside = first + 30 * DAY - timedelta(seconds=1)
    assert store.counters.count(event("p2", "purchase", just_inside), RULES)["purchases_30d"] == 2
    # Exactly 30 days after the first: the window is (t - 30d, t], the first is out.
    at_edge = first + 30 * DAY
    assert store.counters.count(event("p3", "purchase", at_edge), RULES)["purchases_30d"] == 2
    assert store.counters.current("c1", RULES, at_edge)["purchases_30d"] == 2
    assert store.counters.current("c1", RULES, at_edge + 30 * DAY)["purchases_30d"] == 0
    # A late event (occurred before the others, counted after them) sees them in its window.
    late = first + DAY
    assert store.counters.count(event("p0", "purchase", late), RULES)["purchases_30d"] == 4


def test_view_reads_only_what_the_trigger_does_not_carry(store: Store) -> None:
    for i in range(4):
        store.counters.count(event(f"v{i}"), RULES)
    carried = {"visits": 2}  # the journey's trigger was the second visit
    assert store.counters.view("c1", RULES, T0, carried) == {"visits": 2, "purchases_30d": 0}
    assert store.counters.view("c1", RULES, T0, {}) == {"visits": 4, "purchases_30d": 0}


def test_concurrent_events_of_one_customer_get_distinct_ordinals(store: Store) -> None:
    count = 16
    results = concurrently(
        count, lambda i: store.counters.count(event(f"v{i}", at=T0 + i * DAY), RULES)
    )
    assert sorted(r["visits"] for r in results) == list(range(1, count + 1))
    rows = store.counters.counted("c1", "visits")
    assert sorted(r.ordinal for r in rows) == list(range(1, count + 1))


def test_concurrent_windowed_events_of_a_new_customer_get_distinct_ordinals(store: Store) -> None:
    count = 12
    results = concurrently(
        count,
        lambda i: store.counters.count(event(f"p{i}", "purchase", T0, who="new"), RULES),
    )
    assert sorted(r["purchases_30d"] for r in results) == list(range(1, count + 1))
    assert store.customers.get("new") is not None


def test_the_same_event_counted_at_once_counts_once(store: Store) -> None:
    results = concurrently(8, lambda _: store.counters.count(event("v1"), RULES))
    assert [r["visits"] for r in results] == [1] * 8
    assert len(store.counters.counted("c1", "visits")) == 1


def test_a_badge_is_held_once_and_a_retry_finds_its_own_award(store: Store) -> None:
    row, awarded = store.badges.award("c1", "three-in-thirty", source_ref="step-a", at=T0)
    assert awarded and row.awarded_at == T0
    _, retried = store.badges.award("c1", "three-in-thirty", source_ref="step-a", at=T0 + DAY)
    assert retried  # the same step's retry: the same answer
    held, again = store.badges.award("c1", "three-in-thirty", source_ref="step-b", at=T0 + DAY)
    assert not again and held.source_ref == "step-a"
    store.badges.award("c1", "explorer", source_ref="step-c", at=T0 + 2 * DAY)
    assert store.badges.of("c1") == ["three-in-thirty", "explorer"]
    assert store.badges.of("c2") == []


def test_racing_awards_of_one_badge_store_one(store: Store) -> None:
    results = concurrently(
        8, lambda i: store.badges.award("c1", "b", source_ref=f"step-{i}", at=T0)
    )
    assert sorted(awarded for _, awarded in results) == [False] * 7 + [True]
    assert store.badges.of("c1") == ["b"]
