"""The event log on SQLite and PostgreSQL: stored once per id, batches all or nothing, and
claims that let only one router route an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.model.events import Event
from journeys.store import Store
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


def event(number: int, customer: str = "c1") -> Event:
    return Event(id=f"e{number}", name="cart.updated", customer_id=customer)


def test_a_batch_stores_each_id_once_and_moves_last_seen(store: Store) -> None:
    seen = datetime(2026, 11, 1, tzinfo=UTC)
    first = [event(1), event(2).model_copy(update={"occurred_at": seen}), event(1)]
    assert store.events.record_many(first) == [True, True, False]
    assert store.events.record_many([event(2), event(3, "c2")]) == [False, True]
    assert store.events.pending_count() == 3
    assert {e.id for e in store.events.pending()} == {"e1", "e2", "e3"}
    customer = store.customers.row("c2")
    assert customer is not None and customer.last_seen_at is not None


def test_two_routers_never_claim_the_same_event(store: Store) -> None:
    store.events.record_many([event(n, f"c{n % 7}") for n in range(60)])

    claims = concurrently(4, lambda _: [e.id for e, _ in store.events.claim(limit=60)])

    every = [event_id for claim in claims for event_id in claim]
    assert sorted(every) == sorted(f"e{n}" for n in range(60))  # each once, none lost
    assert store.events.claim() == []  # all held
    store.events.mark_routed(*every[:10])
    assert store.events.pending_count() == 50


def test_a_lapsed_claim_is_taken_again(store: Store) -> None:
    store.events.record_many([event(1)])
    assert [e.id for e, _ in store.events.claim(lease=timedelta(seconds=-1))] == ["e1"]
    assert [e.id for e, _ in store.events.claim()] == ["e1"]  # the first router died
    assert store.events.claim() == []


def test_a_router_gives_back_only_the_claims_it_still_holds(store: Store) -> None:
    """Router a's routing outlasted its lease and router b took the events since: when a
    gives up on them, b's claim stands (or a third router would route them beside b)."""
    store.events.record_many([event(1), event(2)])
    lapsed = store.events.claim(lease=timedelta(seconds=-1), token="router-a")
    assert [e.id for e, _ in lapsed] == ["e1", "e2"]
    assert [e.id for e, _ in store.events.claim(token="router-b")] == ["e1", "e2"]

    store.events.release("router-a", "e1", "e2")
    assert store.events.claim(token="router-c") == []  # still b's

    store.events.release("router-b", "e1")
    assert [e.id for e, _ in store.events.claim(token="router-c")] == ["e1"]
