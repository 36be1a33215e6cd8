"""wait_for counts events from the end of the previous timed wait, not before it."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

SCENARIO = """
id: ping-after-wait
name: Ping after a wait
trigger: {event: trial.started}
steps:
  - wait: 1h
  - wait_for:
      event: app.opened
      timeout: 1h
      where: "last_event.screen == 'home'"
      received:
        - send: {id: welcome-back, channel: email, template: abandoned_cart/reminder}
      timed_out:
        - send: {id: come-back, channel: email, template: abandoned_cart/reminder}
"""


def make_driver(temporal: WorkflowEnvironment, settings: Settings, store: Store) -> JourneyDriver:
    registry = ScenarioRegistry([parse_scenario(SCENARIO, "ping.yaml")])
    return JourneyDriver(temporal, Router(temporal.client, registry, settings.task_queue), store)


async def test_event_during_the_earlier_wait_does_not_count(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    driver = make_driver(temporal, settings, store)
    customer = driver.customer()
    await driver.send(customer, "trial.started", cart_total=1, **CART_PROPS)
    await driver.idle("ping-after-wait", customer)
    await driver.advance("ping-after-wait", customer, "30m")
    await driver.send(customer, "app.opened", screen="home")
    await driver.finish("ping-after-wait", customer)
    assert driver.sent(customer) == [("come-back", "email")]


async def test_matching_event_during_wait_for_takes_the_received_branch(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    driver = make_driver(temporal, settings, store)
    customer = driver.customer()
    await driver.send(customer, "trial.started", cart_total=1, **CART_PROPS)
    await driver.idle("ping-after-wait", customer)
    await driver.advance("ping-after-wait", customer, "90m")
    await driver.idle("ping-after-wait", customer)
    await driver.send(customer, "app.opened", screen="settings")  # fails 'where': still waiting
    await driver.send(customer, "app.opened", screen="home")
    state = await driver.finish("ping-after-wait", customer)
    assert driver.sent(customer) == [("welcome-back", "email")]
    assert any("did not match" in e.note for e in state.timeline)
