"""Counters and badges as journeys see them, end to end on the real server: the count as
of the trigger event (not as of the moment a step runs), badges in ``customer.badges``."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router

SCENARIO = """
id: third-visit
name: Third visit
trigger: {event: store.visit}
entry:
  if: "counters.visits == 3"
  reentry: ignore
steps:
  - wait: 1h
  - update:
      id: remember
      badge: regular
      set:
        seen_at_trigger: "{{ counters.visits }}"
        seen_on_event: "{{ event.counters.visits }}"
  - if: "'regular' in customer.badges"
    then:
      - update: {id: has-badge, set: {badge_seen: true}}
"""
ID = "third-visit"


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    registry = ScenarioRegistry([parse_scenario(SCENARIO, "third_visit.yaml")])
    program = LoyaltyProgram.load(settings.loyalty_file)
    router = Router(temporal.client, registry, settings.task_queue, loyalty=program, store=store)
    return JourneyDriver(temporal, router, store)


async def test_the_third_visit_journey_reads_three_after_a_fourth_visit(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer("visits")
    for _ in range(2):
        await driver.send(customer, "store.visit")
        assert (await driver.finish(ID, customer)).status == "not-entered"
    third = await driver.send(customer, "store.visit")
    assert third.counters["visits"] == 3
    await driver.idle(ID, customer)  # entered, waiting its hour
    fourth = await driver.send(customer, "store.visit")  # ignored by the running journey
    assert fourth.counters["visits"] == 4

    state = await driver.finish(ID, customer)

    assert state.status == "completed"
    profile = driver.store.customers.get(customer)
    assert profile is not None
    assert profile["seen_at_trigger"] == 3 and profile["seen_on_event"] == 3
    assert profile["badge_seen"] is True
    assert driver.store.badges.of(customer) == ["regular"]
