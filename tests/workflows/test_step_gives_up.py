"""An error that is not the scenario's (the store does not answer) is retried, a bounded
number of times, then the journey fails for good with a message naming the step — never a
local activity retried without end, never a workflow task retried forever.

The fault is a real activity that raises, on a worker of its own running the production
workflow on the real server; the retries' backoffs are durable timers, which the
time-skipping server jumps over, so 30 attempts take seconds of real time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.journey_context import JourneyContextActivities
from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.model.contracts import EVALUATE_CONDITION, ConditionRequest
from journeys.rendering.templating import Expressions
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.workflow_history import task_failures
from workflows.journey import JourneyWorkflow
from workflows.local_calls import ATTEMPTS

QUEUE = "outage-test"
SCENARIO = parse_scenario(
    "id: outage\nname: Outage\ntrigger: {event: outage.go}\nsteps:\n"
    '  - if: "true"\n    id: check\n    then:\n'
    "      - send: {id: hello, channel: email, template: abandoned_cart/reminder}\n",
    "outage.yaml",
)


class StoreDown(JourneyContextActivities):
    """Conditions cannot read the customer: every attempt fails, as in a long outage."""

    attempts = 0

    @activity.defn(name=EVALUATE_CONDITION)
    async def evaluate_condition(self, request: ConditionRequest) -> bool:
        StoreDown.attempts += 1
        raise ConnectionError("the store does not answer")


@pytest.fixture
async def outage(temporal: WorkflowEnvironment, store: Store) -> AsyncIterator[JourneyDriver]:
    down = StoreDown(store, Expressions())
    worker = Worker(
        temporal.client,
        task_queue=QUEUE,
        workflows=[JourneyWorkflow],
        activities=[down.evaluate_condition, down.record_fact, down.record_facts],
    )
    async with worker:
        router = Router(temporal.client, ScenarioRegistry([SCENARIO]), QUEUE)
        yield JourneyDriver(temporal, router, store)


async def test_an_outage_is_retried_a_bounded_number_of_times_then_fails_for_good(
    outage: JourneyDriver,
) -> None:
    customer = outage.customer()
    StoreDown.attempts = 0
    started = time.monotonic()
    await outage.send(customer, "outage.go")

    with pytest.raises(WorkflowFailureError) as failed:
        await outage.finish("outage", customer)

    assert time.monotonic() - started < 120  # bounded: backoffs are timers, skipped here
    assert StoreDown.attempts == ATTEMPTS
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "StepGaveUp" and cause.non_retryable
    assert cause.message == (
        f"step 'check': evaluate_condition kept failing ({ATTEMPTS} attempts over about 5 "
        "hours), so the journey stops here; the last error: the store does not answer"
    )
    assert await task_failures(outage.handle("outage", customer)) == 0
    assert outage.sent(customer) == []
    state = await outage.state("outage", customer)  # the timeline up to the failure
    assert [e.step_id for e in state.timeline] == ["event"]
