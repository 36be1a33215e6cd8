"""Scaled out as compose and Helm run it: two ``journeys worker`` and two ``journeys api``
processes, started at the same moment against one Temporal server and one PostgreSQL store
they set up themselves. Events posted to both APIs are routed and delivered once each, and
a worker SIGKILLed mid-run leaves its journeys to the other."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import eventually
from journeys.temporal.schedules import daily_schedule_id
from tests.cli_process import Cli, environment, run
from tests.databases import postgres_schema
from tests.http_sink import HttpSink, Reply
from tests.props import VIP_PROPS

QUEUE = "journeys-scale-out"
CUSTOMERS_PER_WAVE = 12


WORKER_UP = re.compile(r" INFO journeys\.worker: worker on ")  # its log line, not a traceback
API_UP = re.compile(r"^Journeys API on ")


async def started(cli: Cli, line: re.Pattern[str], timeout: float = 40) -> None:
    """Waits for the line that says the process is up; one that died fails at once."""
    deadline = time.monotonic() + timeout
    while not any(line.search(printed) for printed in cli.lines + cli.errors):
        if cli.process.returncode is not None or time.monotonic() > deadline:
            raise AssertionError(f"never started\n{cli.describe()}")
        await asyncio.sleep(0.1)


def invites(reader: Engine) -> dict[str, list[str]]:
    """customer → statuses of their ledger rows for the invitation (one expected: sent)."""
    found: dict[str, list[str]] = {}
    with reader.connect() as connection:
        for customer, status in connection.execute(
            text(
                "SELECT customer_id, status FROM deliveries "
                "WHERE scenario_id = 'vip-invite' AND step_id = 'invite'"
            )
        ):
            found.setdefault(customer, []).append(status)
    return found


async def test_two_workers_and_two_apis_deliver_once_and_survive_a_killed_worker(
    temporal: WorkflowEnvironment, tmp_path: Path, postgres_admin: Engine
) -> None:
    with postgres_schema(postgres_admin) as store_url, HttpSink() as provider:
        reader = create_engine(store_url)  # the test's own counts
        # Each send is held a moment at the provider: the kill below finds sends in flight.
        provider.reply("/hook", Reply(200, {"id": "accepted"}, delay=1.5))
        shared = {
            "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
            "JOURNEYS_TASK_QUEUE": QUEUE,
            "JOURNEYS_DATABASE_URL": store_url,
            "JOURNEYS_EMAIL_PROVIDER": "webhook",
            "JOURNEYS_WEBHOOK_URL": provider.url + "/hook",
            "JOURNEYS_WEBHOOK_SECRET": "k" * 32,
            "JOURNEYS_FREQUENCY_CAP": "",
        }
        envs = [environment(tmp_path / f"p{i}", **shared) for i in range(4)]
        # The same moment: schema creation and schedule upserts race for real.
        processes = await asyncio.gather(
            Cli.start("worker", env=envs[0]),
            Cli.start("worker", env=envs[1]),
            Cli.start("api", env=envs[2]),
            Cli.start("api", env=envs[3]),
        )
        first, second, *apis = processes
        try:
            await asyncio.gather(
                *(started(w, WORKER_UP) for w in (first, second)),
                *(started(a, API_UP) for a in apis),
            )
            schedule = await temporal.client.get_schedule_handle(
                daily_schedule_id(QUEUE)
            ).describe()
            assert schedule.id == daily_schedule_id(QUEUE)
            code, out = await run("api-keys", "create", "scale-out", env=envs[2])
            assert code == 0, out
            key = out.strip().splitlines()[-1]
            urls = [f"http://127.0.0.1:{env['JOURNEYS_API_PORT']}" for env in envs[2:]]
            async with httpx.AsyncClient(
                headers={"Authorization": f"Bearer {key}"}, timeout=30, trust_env=False
            ) as http:

                async def wave(label: str) -> list[str]:
                    customers = [
                        f"{label}-{i}-{uuid.uuid4().hex[:6]}" for i in range(CUSTOMERS_PER_WAVE)
                    ]

                    async def enter(i: int, customer: str) -> None:
                        api = urls[i % 2]  # every other customer through each API
                        profile = {"email": f"{customer}@example.com", "consent": {"email": True}}
                        put = await http.put(f"{api}/v1/customers/{customer}", json=profile)
                        assert put.status_code == 200, put.text
                        event = {
                            "id": f"up-{customer}",
                            "customer_id": customer,
                            "name": "tier.upgraded",
                            "properties": {
                                "new_tier": "gold",
                                "previous_tier": "silver",
                                **VIP_PROPS,
                            },
                        }
                        for attempt in (1, 2):  # a retry of the same id changes nothing
                            posted = await http.post(
                                f"{urls[(i + attempt) % 2]}/v1/events", json=event
                            )
                            assert posted.status_code == 202, posted.text

                    await asyncio.gather(*(enter(i, c) for i, c in enumerate(customers)))
                    return customers

                early = await wave("early")

                async def some_in_flight() -> None:
                    assert len(provider.received("/hook")) >= 3

                await eventually(some_in_flight, 30)
                first.kill()  # SIGKILL: no drain, its in-flight sends die with it
                await first.finish(10)
                late = await wave("late")
                everyone = early + late

                async def all_sent() -> None:
                    assert invites(reader) == {c: ["sent"] for c in everyone}

                await eventually(all_sent, 50)
                for api in urls:
                    ready = (await http.get(f"{api}/readyz")).json()
                    assert ready["pending_events"] == "0" and ready["failed_events"] == "0"
        finally:
            for cli in processes:
                if cli.process.returncode is None:
                    cli.process.terminate()
            for cli in processes:
                with contextlib.suppress(AssertionError):
                    await cli.finish(30)
            reader.dispose()
        calls = provider.received("/hook")
    keys = [call.headers["idempotency-key"] for call in calls]
    # Every customer's invitation reached the provider under one key; the sends that died
    # with the first worker were retried by the second under the same key (no duplicate).
    assert len(set(keys)) == len(everyone)
    assert len(calls) >= len(everyone)
    assert second.process.returncode == 0, second.describe()  # SIGTERM: a clean drained stop
