"""A send activity that fails after the provider accepted the message is retried by
Temporal, and the customer still gets exactly one message."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.channels.base import ChannelAdapter, OutgoingMessage
from activities.channels.outbox import OutboxAdapter
from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import VIP_PROPS
from worker import build_worker


class CrashAfterProviderCall(ChannelAdapter):
    """The provider gets the message, then the activity dies before it can report success."""

    def __init__(self, inner: ChannelAdapter) -> None:
        self.inner = inner
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        message_id = await self.inner.send(message)
        if self.calls == 1:
            raise ConnectionResetError("simulated crash after the provider call")
        return message_id


async def test_retried_send_produces_exactly_one_message(
    temporal: WorkflowEnvironment, settings: Settings, store: Store, registry: ScenarioRegistry
) -> None:
    crash_settings = settings.model_copy(update={"task_queue": "journeys-crash"})
    faulty = CrashAfterProviderCall(OutboxAdapter(store))
    adapters = {"email": faulty, "sms": faulty, "push": faulty}
    driver = JourneyDriver(temporal, Router(temporal.client, registry, "journeys-crash"), store)
    customer = driver.customer()

    async with build_worker(temporal.client, crash_settings, adapters=adapters, store=store):
        await driver.send(
            customer, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_PROPS
        )

        async def invited() -> list[int]:
            assert faulty.calls == 2
            assert driver.sent(customer) == [("invite", "email")]
            # A retried activity's started event is written when it completes, a moment
            # after the message is in the outbox: read the history until it is there.
            history = await driver.handle("vip-invite", customer).fetch_history()
            attempts = [
                e.activity_task_started_event_attributes.attempt
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            ]
            assert attempts, "the send's completion is not in the history yet"
            return attempts

        attempts = await eventually(invited)

    assert attempts == [2]  # the first attempt failed after the provider call, the retry won
    ledger = [d for d in store.ledger.for_customer(customer) if d.step_id == "invite"]
    assert [d.status for d in ledger] == ["sent"]
