"""A long journey continues as new before its history grows large, and loses nothing."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from journeys.driver import JourneyDriver
from journeys.events import Event
from journeys.journey_state import JourneyInput, JourneyState, journey_id
from journeys.scenario_file import parse_scenario
from journeys.settings import Settings
from tests.props import CART_PROPS

STEPS = "\n".join(
    f"  - wait: 1d\n  - send: {{id: day-{day}, channel: email, template: abandoned_cart/reminder}}"
    for day in range(1, 7)
)
LONG = f"""
id: long-drip
name: Six-day drip
trigger: {{event: drip.started}}
steps:
{STEPS}
"""


async def test_long_journey_continues_as_new_and_completes(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, journeys: JourneyDriver
) -> None:
    scenario = parse_scenario(LONG, "long.yaml")
    customer = journeys.customer()
    trigger = Event(
        id=uuid.uuid4().hex,
        name="drip.started",
        customer_id=customer,
        properties={"cart_total": 10, **CART_PROPS},
    )
    handle = await temporal.client.start_workflow(
        "JourneyWorkflow",
        JourneyInput(scenario=scenario, customer_id=customer, history_limit=25),
        id=journey_id(scenario.id, customer),
        task_queue=settings.task_queue,
        start_signal="event",
        start_signal_args=[trigger],
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        result_type=JourneyState,
    )
    first_run = handle.result_run_id

    await temporal.fast_forward(handle, None)  # type: ignore[attr-defined]
    state = await handle.result()

    assert [m.step_id for m in state.messages] == [f"day-{d}" for d in range(1, 7)]
    assert journeys.sent(customer) == [(f"day-{d}", "email") for d in range(1, 7)]
    first = temporal.client.get_workflow_handle(handle.id, run_id=first_run)
    history = await first.fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert (await handle.describe()).run_id != first_run
