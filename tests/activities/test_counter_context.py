"""``counters`` and ``customer.badges`` in the context activities and in deliveries: the
trigger's counts when it carries them, the store's as of the journey's clock otherwise
(a scheduled journey), and no store read for what a source does not mention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.journey_context import JourneyContextActivities
from journeys.loyalty.counters import CounterRule
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.contracts import ConditionRequest, JourneyContext
from journeys.model.events import Event
from journeys.rendering.templating import Expressions
from journeys.store import Store

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)
PROGRAM = LoyaltyProgram(
    counters={
        "visits": CounterRule(event="store.visit"),
        "purchases_30d": CounterRule(event="purchase", window=timedelta(days=30)),
    }
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    store.customers.upsert("c1", email="c1@example.com")
    for i in range(5):
        visit = Event(id=f"v{i}", name="store.visit", customer_id="c1", occurred_at=NOW)
        store.counters.count(visit, PROGRAM.counters)
    old = Event(id="p0", name="purchase", customer_id="c1", occurred_at=NOW - timedelta(days=31))
    store.counters.count(old, PROGRAM.counters)
    store.badges.award("c1", "explorer", source_ref="s1", at=NOW)
    return store


async def holds(store: Store, expression: str, event: Event | None) -> bool:
    activities = JourneyContextActivities(store, Expressions(), PROGRAM)
    request = ConditionRequest(
        expression=expression, context=JourneyContext(customer_id="c1", event=event, now=NOW)
    )
    return await ActivityEnvironment().run(activities.evaluate_condition, request)


async def test_a_scheduled_journey_reads_the_current_counts(store: Store) -> None:
    assert await holds(store, "counters.visits == 5 and counters.purchases_30d == 0", None)


async def test_the_trigger_events_counts_win_and_the_rest_are_read(store: Store) -> None:
    trigger = Event(id="v2", name="store.visit", customer_id="c1", counters={"visits": 3})
    assert await holds(store, "counters.visits == 3", trigger)
    assert await holds(
        store, "event.counters.visits == 3 and last_event.counters.visits == 3", trigger
    )
    assert await holds(store, "counters.purchases_30d == 0", trigger)  # not carried: read


async def test_badges_are_read_when_named(store: Store) -> None:
    assert await holds(store, "customer.badges == ['explorer']", None)
    assert await holds(store, "'explorer' in customer['badges']", None)
    assert await holds(store, "customer.badges | length == 1", None)


def test_only_sources_that_name_them_read_counters_or_badges() -> None:
    expressions = Expressions()
    assert "customer.badges" in expressions.variables("'x' in customer.badges")
    assert "customer.badges" in expressions.variables("customer['badges'] | length > 0")
    assert "customer.badges" not in expressions.variables("customer.first_name == 'Ana'")
    assert "counters" in expressions.variables("counters.visits % 10 == 0")
    assert "counters" not in expressions.variables("event.amount > 10")
