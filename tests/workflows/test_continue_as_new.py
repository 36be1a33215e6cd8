"""Long journeys continue as new before their history grows large, and lose nothing."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS
from tests.workflow_history import task_failures

STEPS = "\n".join(
    f"  - wait: 1d\n  - send: {{id: day-{day}, channel: email, template: abandoned_cart/reminder}}"
    for day in range(1, 7)
)
DRIP = f"""
id: long-drip
name: Six-day drip
trigger: {{event: drip.started}}
steps:
{STEPS}
"""
LONG_WAIT = """
id: long-wait
name: Waits a month for a purchase over 100
trigger: {event: browse.started}
steps:
  - wait_for:
      id: big-purchase
      event: purchase.made
      where: "last_event.total > 100"
      timeout: 30d
      timed_out:
        - send: {id: nudge, channel: email, template: abandoned_cart/reminder}
"""


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    registry = ScenarioRegistry(
        [parse_scenario(DRIP, "drip.yaml"), parse_scenario(LONG_WAIT, "w.yaml")]
    )
    router = Router(temporal.client, registry, settings.task_queue, history_limit=40)
    return JourneyDriver(temporal, router, store)


async def first_run_continued_as_new(
    driver: JourneyDriver, scenario_id: str, customer: str
) -> bool:
    first = driver.handle(scenario_id, customer)
    first_run_id = (await first.describe()).raw_description.workflow_execution_info.first_run_id
    history = await driver.router.client.get_workflow_handle(
        first.id, run_id=first_run_id
    ).fetch_history()
    return history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def test_long_journey_continues_as_new_between_steps(driver: JourneyDriver) -> None:
    customer = driver.customer()
    await driver.send(customer, "drip.started", cart_total=10, **CART_PROPS)

    state = await driver.finish("long-drip", customer)

    assert [m.step_id for m in state.messages] == [f"day-{d}" for d in range(1, 7)]
    assert driver.sent(customer) == [(f"day-{d}", "email") for d in range(1, 7)]
    assert await first_run_continued_as_new(driver, "long-drip", customer)


async def test_continue_as_new_happens_inside_a_long_wait(driver: JourneyDriver) -> None:
    customer = driver.customer()
    await driver.send(customer, "browse.started", cart_total=1, **CART_PROPS)
    await driver.idle("long-wait", customer)
    for _ in range(12):  # small purchases never match 'where': the wait goes on, history grows
        await driver.send(customer, "purchase.made", total=10)
    await driver.idle("long-wait", customer)

    state = await driver.finish("long-wait", customer)

    assert [m.step_id for m in state.messages] == ["nudge"]
    assert driver.sent(customer) == [("nudge", "email")]
    assert await first_run_continued_as_new(driver, "long-wait", customer)


BROWSE_THEN_WAIT = """
id: browse-then-wait
name: Waits a day, then for a purchase
trigger: {event: browse.started}
steps:
  - wait: 1d
  - wait_for:
      id: purchase
      event: purchase.made
      timeout: 1d
      received:
        - send: {id: thanks, channel: email, template: abandoned_cart/reminder}
"""


async def test_events_kept_during_a_long_wait_never_outgrow_the_carried_input(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    """Events of an awaited name that arrive during an earlier wait are kept (the inbox,
    up to a hundred). Seventy-five of 60 KB would make a 4.5 MB continue-as-new input,
    which Temporal refuses (2 MiB): the workflow task would then fail for ever. The oldest
    kept ones are dropped instead, and the timeline says so."""
    registry = ScenarioRegistry([parse_scenario(BROWSE_THEN_WAIT, "b.yaml")])
    router = Router(temporal.client, registry, settings.task_queue, history_limit=300)
    driver = JourneyDriver(temporal, router, store)
    customer = driver.customer()
    await driver.send(customer, "browse.started", cart_total=1, **CART_PROPS)
    await driver.idle("browse-then-wait", customer)
    for number in range(75):
        await driver.send(customer, "purchase.made", note="x" * 60_000, number=number)
    await driver.idle("browse-then-wait", customer)

    state = await driver.finish("browse-then-wait", customer)

    assert await first_run_continued_as_new(driver, "browse-then-wait", customer)
    assert state.status == "completed"
    assert any(e.step_id == "continue-as-new" and "dropped" in e.note for e in state.timeline)
    assert await task_failures(driver.handle("browse-then-wait", customer)) == 0
