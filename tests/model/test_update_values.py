"""An update step whose expression computes a value JSON cannot hold (``inf``, a NUL, an
unpaired surrogate) is the step's recorded error at once, on SQLite and on PostgreSQL.

The production worker on the session's Temporal server, over a real store of each kind:
without the check, SQLite stores ``inf`` as ``Infinity`` (read back by nothing else) and
PostgreSQL refuses NUL and surrogates with a database error, which the journey retries as
an outage (30 attempts, their backoffs durable timers) before failing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.delivery.governance import Governance
from journeys.model.scenario import Scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.databases import postgres_schema
from tests.workflow_history import task_failures
from worker import build_worker

# (scenario id, the update's value as YAML, where, why)
CASES = [
    ("upd-inf", "'{{ 1e308 * 10 }}'", "score", "inf is not a number JSON can carry"),
    ("upd-nan", "'{{ (1e308 * 10) - (1e308 * 10) }}'", "score", "nan is not a number"),
    ("upd-nul", "'{{ \"a\\x00b\" }}'", "score", "contains a NUL character"),
    ("upd-deep-nul", "'{{ {\"a\": [\"\\x00\"]} }}'", "score.a[0]", "contains a NUL character"),
    ("upd-surrogate", "'{{ \"\\ud800\" }}'", "score", "contains an unpaired surrogate"),
]


def scenario(scenario_id: str, value: str) -> Scenario:
    text = (
        f"id: {scenario_id}\nname: Bad values\ntrigger: {{event: {scenario_id}.go}}\nsteps:\n"
        f"  - update: {{id: mark, set: {{fine: 1, score: {value}}}}}\n"
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n"
    )
    return parse_scenario(text, f"{scenario_id}.yaml")


SCENARIOS = [scenario(scenario_id, value) for scenario_id, value, _, _ in CASES]


@pytest.fixture(params=["sqlite", "postgresql"])
async def driver(
    request: pytest.FixtureRequest,
    temporal: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
) -> AsyncIterator[JourneyDriver]:
    registry = ScenarioRegistry(SCENARIOS)
    if request.param == "sqlite":  # the session's worker and store
        yield JourneyDriver(temporal, Router(temporal.client, registry, settings.task_queue), store)
        return
    with postgres_schema(request.getfixturevalue("postgres_admin")) as url:
        postgres = Store(url)
        own = settings.model_copy(update={"task_queue": f"update-values-{uuid.uuid4().hex[:8]}"})
        worker_on_postgres = build_worker(
            temporal.client, own, store=postgres, governance=Governance.off(), registry=registry
        )
        async with worker_on_postgres:
            router = Router(temporal.client, registry, own.task_queue)
            yield JourneyDriver(temporal, router, postgres)
        postgres.engine.dispose()


async def durable_retries(driver: JourneyDriver, scenario_id: str, customer: str) -> int:
    """Timers in the history: these scenarios never wait, so each is a retry's backoff."""
    history = await driver.handle(scenario_id, customer).fetch_history()
    return sum(1 for e in history.events if e.HasField("timer_started_event_attributes"))


@pytest.mark.parametrize(("scenario_id", "where", "why"), [(c[0], c[2], c[3]) for c in CASES])
async def test_a_value_json_cannot_hold_ends_the_entry_as_an_invalid_update_at_once(
    driver: JourneyDriver, scenario_id: str, where: str, why: str
) -> None:
    customer = driver.customer()
    await driver.send(customer, f"{scenario_id}.go")
    # An outage's 30 attempts would fail the journey (or outlast this) instead.
    state = await asyncio.wait_for(driver.finish(scenario_id, customer), timeout=30)

    assert state.status == "exited"
    assert state.exit_reason.startswith(
        f"error at step 'mark': update: {where} cannot be stored: {why}"
    ), state.exit_reason
    assert await durable_retries(driver, scenario_id, customer) == 0
    assert await task_failures(driver.handle(scenario_id, customer)) == 0
    profile = driver.store.customers.get(customer)
    assert profile is not None
    assert "score" not in profile and "fine" not in profile  # nothing of the step written
    assert driver.sent(customer) == []
