"""``python worker.py`` is a working worker process, configured from the environment alone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.cli_process import start_worker
from tests.props import VIP_PROPS


async def test_worker_process_runs_journeys(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "JOURNEYS_TASK_QUEUE": "journeys-process",
        "JOURNEYS_DATABASE_URL": store_url,
    }
    process = await start_worker(env, output=True)
    try:
        store = Store(store_url)
        store.create_schema()
        driver = JourneyDriver(
            temporal, Router(temporal.client, registry, "journeys-process"), store
        )
        customer = driver.customer()
        await driver.send(
            customer, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_PROPS
        )

        async def invited() -> None:
            assert driver.sent(customer) == [("invite", "email")]

        await eventually(invited, timeout=30)
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()  # SIGTERM is a clean, drained stop
    assert b"worker on" in output, output.decode()
    assert b"worker stopped" in output, output.decode()
