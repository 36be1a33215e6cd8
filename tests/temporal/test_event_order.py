"""Events are applied in arrival order, once, and an exit stops even a retrying send."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from activities.channels.base import ChannelAdapter, OutgoingMessage
from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
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
