"""The worker is SIGKILLed after the provider received a message and before the activity
could report it; after a restart the provider has one message, not two."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.cli_process import start_worker
from tests.http_sink import HttpSink, Reply
from tests.props import VIP_PROPS

QUEUE = "journeys-kill"


def worker_environment(temporal: WorkflowEnvironment, store_url: str, hook: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TEMPORAL_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        JOURNEYS_TASK_QUEUE=QUEUE,
        JOURNEYS_DATABASE_URL=store_url,
        JOURNEYS_EMAIL_PROVIDER="webhook",
        JOURNEYS_WEBHOOK_URL=hook,
        JOURNEYS_WEBHOOK_SECRET="k" * 32,
        JOURNEYS_FREQUENCY_CAP="",
        JOURNEYS_QUIET_HOURS_SMS="",
        JOURNEYS_QUIET_HOURS_PUSH="",
    )
    return env


async def test_worker_killed_mid_send_delivers_exactly_once(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(store_url)
    store.create_schema()
    with HttpSink() as provider:
        # The first call is received and held: the worker dies before the answer comes.
        provider.reply("/hook", Reply(200, {"id": "msg-1"}, delay=6), Reply(200, {"id": "msg-1"}))
        env = worker_environment(temporal, store_url, provider.url + "/hook")
        driver = JourneyDriver(temporal, Router(temporal.client, registry, QUEUE), store)
        customer = driver.customer()
        first = await start_worker(env)
        second = None
        try:
            await driver.send(
                customer, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_PROPS
            )

            async def provider_received() -> None:
                assert len(provider.received("/hook")) == 1

            await eventually(provider_received, timeout=30)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            second = await start_worker(env)

            async def sent() -> None:
                rows = [d for d in store.ledger.for_customer(customer) if d.step_id == "invite"]
                assert [d.status for d in rows] == ["sent"]

            await eventually(sent, timeout=60)
        finally:
            for process in (first, second):
                if process and process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), timeout=30)

        calls = provider.received("/hook")
    keys = {call.headers["idempotency-key"] for call in calls}
    assert len(calls) == 2  # the retry after the crash reached the provider again...
    assert len(keys) == 1  # ...with the same idempotency key: one message at the provider
    history = await driver.handle("vip-invite", customer).fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempts == [2]  # attempt 1 died with the worker; the heartbeat timeout freed it
