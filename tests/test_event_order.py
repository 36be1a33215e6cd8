"""Events are applied in arrival order, once, and an exit stops even a retrying send."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from activities.channels.base import ChannelAdapter, OutgoingMessage
from journeys.driver import JourneyDriver, eventually
from journeys.events import Event
from journeys.journey_state import JourneyInput, journey_id
from journeys.registry import ScenarioRegistry
from journeys.routing import Router
from journeys.scenario_file import parse_scenario
from journeys.settings import Settings
from journeys.store import Store
from tests.props import CART_PROPS
from worker import build_worker

CART = "abandoned-cart"


async def test_trigger_then_exit_in_one_batch_exits_before_any_message(
    temporal: WorkflowEnvironment, settings: Settings, store: Store, registry: ScenarioRegistry
) -> None:
    """With no worker polling, both signals reach the journey's first activation together."""
    queue = "journeys-batch"
    driver = JourneyDriver(temporal, Router(temporal.client, registry, queue), store)
    customer = driver.customer()
    await driver.send(customer, "cart.updated", cart_total=80, **CART_PROPS)
    await driver.send(customer, "order.completed", order_id="o-1")

    batch_settings = settings.model_copy(update={"task_queue": queue})
    async with build_worker(temporal.client, batch_settings, store=store):
        state = await driver.finish(CART, customer)

    assert state.status == "exited"
    assert [e.effect for e in state.events] == ["entered", "goal reached, exit"]
    assert driver.sent(customer) == []


async def test_replayed_trigger_after_the_journey_ended_sends_nothing_twice(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer()
    await journeys.send(
        customer, "cart.updated", event_id=f"evt-{customer}", cart_total=5, **CART_PROPS
    )
    await journeys.finish(CART, customer)
    first = journeys.sent(customer)

    await journeys.send(
        customer, "cart.updated", event_id=f"evt-{customer}", cart_total=5, **CART_PROPS
    )
    await journeys.finish(CART, customer)

    assert first == [("reminder", "email"), ("last-chance", "email")]
    assert journeys.sent(customer) == first


class ProviderDown(ChannelAdapter):
    """A provider that times out on every call: Temporal keeps retrying the delivery."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        raise TimeoutError("provider did not answer")


async def test_exit_event_stops_a_delivery_that_is_still_retrying(
    temporal: WorkflowEnvironment, settings: Settings, store: Store, registry: ScenarioRegistry
) -> None:
    queue = "journeys-down"
    down = ProviderDown()
    driver = JourneyDriver(temporal, Router(temporal.client, registry, queue), store)
    customer = driver.customer()
    async with build_worker(
        temporal.client,
        settings.model_copy(update={"task_queue": queue}),
        adapters={"email": down, "sms": down, "push": down},
        store=store,
    ):
        await driver.send(customer, "cart.updated", cart_total=80, **CART_PROPS)
        await driver.idle(CART, customer)
        await driver.advance(CART, customer, "1h")

        async def retrying() -> None:
            assert down.calls >= 2

        await eventually(retrying)
        await driver.send(customer, "order.completed", order_id="o-2")
        state = await driver.finish(CART, customer)
        calls_at_exit = down.calls

    assert state.status == "exited"
    assert [(m.step_id, m.status) for m in state.messages] == [("reminder", "cancelled")]
    assert down.calls == calls_at_exit
    assert driver.sent(customer) == []


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


async def test_continue_as_new_happens_inside_a_long_wait(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, journeys: JourneyDriver
) -> None:
    scenario = parse_scenario(LONG_WAIT, "long_wait.yaml")
    customer = journeys.customer()
    start = Event(
        id=uuid.uuid4().hex,
        name="browse.started",
        customer_id=customer,
        properties={"cart_total": 1, **CART_PROPS},
    )
    handle = await temporal.client.start_workflow(
        "JourneyWorkflow",
        JourneyInput(scenario=scenario, customer_id=customer, history_limit=40),
        id=journey_id(scenario.id, customer),
        task_queue=settings.task_queue,
        start_signal="event",
        start_signal_args=[start],
    )
    first_run = handle.result_run_id
    for number in range(12):  # small purchases: they never match 'where', the wait goes on
        await handle.signal(
            "event",
            Event(
                id=f"{customer}-p{number}",
                name="purchase.made",
                customer_id=customer,
                properties={"total": 10},
            ),
        )
    await journeys.idle(scenario.id, customer)

    state = await journeys.finish(scenario.id, customer)

    assert (await handle.describe()).run_id != first_run
    assert [m.step_id for m in state.messages] == ["nudge"]
    assert journeys.sent(customer) == [("nudge", "email")]
