"""wait_until, split, update, if and exit, end to end through router, server and worker."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.model.journey_state import JourneyState
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

SCENARIO = """
id: step-kinds
name: Every step kind
trigger: {event: signup.completed}
steps:
  - update: {set: {welcomed: true, signup_source: "{{ event.source }}"}}
  - wait_until: "09:00"
  - split:
      id: welcome-test
      holdout: 20
      variants:
        - name: a
          weight: 50
          steps:
            - send: {id: welcome-a, channel: email, template: abandoned_cart/reminder}
        - name: b
          weight: 50
          steps:
            - send: {id: welcome-b, channel: email, template: abandoned_cart/reminder}
  - if: "customer.vip_candidate | default(false)"
    then:
      - exit: vip candidates get the VIP journey instead
  - send: {id: tips, channel: email, template: abandoned_cart/reminder}
"""
ID = "step-kinds"


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    registry = ScenarioRegistry([parse_scenario(SCENARIO, "step_kinds.yaml")])
    return JourneyDriver(temporal, Router(temporal.client, registry, settings.task_queue), store)


async def run(driver: JourneyDriver, customer: str) -> JourneyState:
    await driver.send(customer, "signup.completed", source="app", cart_total=1, **CART_PROPS)
    return await driver.finish(ID, customer)


def variant_of(state: JourneyState) -> str:
    notes = [e.note for e in state.timeline if e.step_id == "welcome-test"]
    assert len(notes) == 1, notes
    return "holdout" if notes[0] == "in the holdout group" else notes[0].removeprefix("variant ")


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/Los_Angeles", "Asia/Tokyo"])
async def test_wait_until_sends_at_local_nine(driver: JourneyDriver, zone: str) -> None:
    customer = driver.customer(time_zone=zone)
    state = await run(driver, customer)
    sends = driver.store.outbox.for_customer(customer)
    if variant_of(state) == "holdout":
        assert sends == []
        return
    local = sends[0].journey_time.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (9, 0)
    entered = state.timeline[0].at
    assert 0 < (sends[0].journey_time - entered).total_seconds() <= 24 * 3600


async def test_update_sets_customer_attributes(driver: JourneyDriver) -> None:
    customer = driver.customer()
    await run(driver, customer)
    profile = driver.store.customers.get(customer)
    assert profile is not None
    assert profile["welcomed"] is True
    assert profile["signup_source"] == "app"


async def test_if_then_exit_ends_the_journey(driver: JourneyDriver) -> None:
    customer = driver.customer(vip_candidate=True)
    state = await run(driver, customer)
    assert state.status == "exited"
    assert state.exit_reason in (
        "vip candidates get the VIP journey instead",
        "holdout of split 'welcome-test'",
    )
    assert "tips" not in [step for step, _ in driver.sent(customer)]


async def test_split_is_weighted_deterministic_and_has_a_holdout(driver: JourneyDriver) -> None:
    customers = [f"split-{n:02d}" for n in range(30)]
    for customer in customers:
        driver.store.customers.upsert(
            customer, email=f"{customer}@example.com", consent={"email": True}
        )
    states = await asyncio.gather(*(run(driver, c) for c in customers))
    groups = {c: variant_of(s) for c, s in zip(customers, states, strict=True)}

    assert set(groups.values()) == {"a", "b", "holdout"}
    for customer, group in groups.items():
        sent = [step for step, _ in driver.sent(customer)]
        expected = [] if group == "holdout" else [f"welcome-{group}", "tips"]
        assert sent == expected, (customer, group)

    again = await asyncio.gather(*(run(driver, c) for c in customers[:6]))
    assert [variant_of(s) for s in again] == [groups[c] for c in customers[:6]]
