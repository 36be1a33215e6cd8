"""Re-entry policies `once`, `ignore` and `queue` (restart and once_per are covered by the
shipped scenarios' tests)."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

SCENARIO = """
id: reentry-{policy}
name: Re-entry {policy}
trigger: {{event: promo.{policy}}}
entry: {{reentry: {policy}}}
exit_on: [promo.stop]
steps:
  - wait: 1h
  - send: {{id: promo, channel: email, template: abandoned_cart/reminder}}
"""

POLICIES = ("once", "ignore", "queue")
FILTERED_QUEUE = """
id: reentry-filtered
name: Queued triggers behind an entry filter
trigger: {event: promo.filtered}
entry: {if: "event.cart_total > 5", reentry: queue}
steps:
  - wait: 1h
  - send: {id: promo, channel: email, template: abandoned_cart/reminder}
"""


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    scenarios = [parse_scenario(SCENARIO.format(policy=p), f"{p}.yaml") for p in POLICIES]
    scenarios.append(parse_scenario(FILTERED_QUEUE, "filtered.yaml"))
    router = Router(temporal.client, ScenarioRegistry(scenarios), settings.task_queue)
    return JourneyDriver(temporal, router, store)


async def test_once_enters_a_single_time_ever(driver: JourneyDriver) -> None:
    customer = driver.customer()
    await driver.send(customer, "promo.once", cart_total=5, **CART_PROPS)
    first = await driver.finish("reentry-once", customer)
    await driver.send(customer, "promo.once", cart_total=5, **CART_PROPS)
    second = await driver.finish("reentry-once", customer)

    assert first.status == "completed"
    assert second.status == "not-entered"
    assert driver.sent(customer) == [("promo", "email")]


async def test_ignore_keeps_the_running_journey_and_allows_a_later_one(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer()
    await driver.send(customer, "promo.ignore", cart_total=5, **CART_PROPS)
    await driver.idle("reentry-ignore", customer)
    await driver.advance("reentry-ignore", customer, "30m")
    await driver.send(customer, "promo.ignore", cart_total=6, **CART_PROPS)
    state = await driver.finish("reentry-ignore", customer)
    assert state.entries == 1
    assert state.events[-1].effect == "ignored: re-entry policy 'ignore'"
    assert driver.sent(customer) == [("promo", "email")]

    await driver.send(customer, "promo.ignore", cart_total=7, **CART_PROPS)
    await driver.finish("reentry-ignore", customer)
    assert driver.sent(customer) == [("promo", "email"), ("promo", "email")]


async def test_queue_enters_each_trigger_in_turn_after_the_running_entry(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer()
    await driver.send(customer, "promo.queue", "first", cart_total=5, **CART_PROPS)
    await driver.idle("reentry-queue", customer)
    await driver.advance("reentry-queue", customer, "30m")
    await driver.send(customer, "promo.queue", "second", cart_total=6, **CART_PROPS)
    await driver.send(customer, "promo.queue", "third", cart_total=7, **CART_PROPS)

    state = await driver.finish("reentry-queue", customer)

    assert state.entries == 3 and state.status == "completed"
    queued = "queued: enters when the current entry ends"
    assert [(e.id, e.effect) for e in state.events] == [
        ("first", "entered"),
        ("second", queued),
        ("third", queued),
        ("second", "entered"),
        ("third", "entered"),
    ]
    assert driver.sent(customer) == [("promo", "email")] * 3  # one per entry, none cut short


async def test_an_exit_event_ends_the_entry_and_the_entries_queued_behind_it(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer()
    await driver.send(customer, "promo.queue", "first", cart_total=5, **CART_PROPS)
    await driver.idle("reentry-queue", customer)
    await driver.send(customer, "promo.queue", "second", cart_total=6, **CART_PROPS)
    await driver.send(customer, "promo.stop", "stop")

    state = await driver.finish("reentry-queue", customer)

    assert state.entries == 1 and state.status == "exited"
    assert state.events[-1].effect == "exit (and 1 queued entries dropped)"
    assert driver.sent(customer) == []


async def test_a_queued_trigger_that_does_not_enter_lets_the_next_one_in(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer()
    await driver.send(customer, "promo.filtered", "first", cart_total=6, **CART_PROPS)
    await driver.idle("reentry-filtered", customer)
    await driver.send(customer, "promo.filtered", "small", cart_total=1, **CART_PROPS)
    await driver.send(customer, "promo.filtered", "third", cart_total=7, **CART_PROPS)

    state = await driver.finish("reentry-filtered", customer)

    assert state.entries == 2 and state.status == "completed"
    assert [(e.id, e.effect) for e in state.events][-2:] == [
        ("small", "did not enter"),
        ("third", "entered"),
    ]
    assert driver.sent(customer) == [("promo", "email")] * 2
