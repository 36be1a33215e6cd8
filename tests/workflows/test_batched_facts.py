"""Batched funnel facts (``workflows.facts``) count exactly what the journey did.

A last send carries the entry's end to the deliver activity; when that send fails or is
stopped, the activity wrote nothing and the journey must write the end itself. Facts held
back are written before the journey waits, so a funnel read during the wait counts them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

SCENARIO = """
id: {id}
name: Batched facts
trigger: {{event: batch.go}}
steps:
  - wait: {{id: pause, duration: 1h}}
  - send: {{id: only, channel: email, template: {template}}}
"""


def _driver(
    temporal: WorkflowEnvironment, settings: Settings, store: Store, scenario_id: str, template: str
) -> JourneyDriver:
    text = SCENARIO.format(id=scenario_id, template=template)
    registry = ScenarioRegistry([parse_scenario(text, f"{scenario_id}.yaml")])
    return JourneyDriver(temporal, Router(temporal.client, registry, settings.task_queue), store)


def _facts(store: Store, journeys: JourneyDriver, scenario_id: str) -> list[tuple[str, str]]:
    scenario = journeys.router.registry.get(scenario_id)
    since = datetime.now(UTC) - timedelta(days=1)
    funnel = store.journeys.funnel(scenario, since, since + timedelta(days=60))
    return [
        ("entered", str(funnel.entered)),
        ("completed", str(funnel.completed)),
        ("running", str(funnel.running)),
        *sorted(funnel.exited.items()),
    ]


async def _local_activities_after_last_send(journeys: JourneyDriver, sid: str, c: str) -> list[str]:
    history = await journeys.handle(sid, c).fetch_history()
    last = max(
        i
        for i, e in enumerate(history.events)
        if e.HasField("activity_task_scheduled_event_attributes")
    )
    return [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)[
            "activity_type"
        ]
        for e in history.events[last:]
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


async def test_the_last_send_writes_the_end_and_the_journey_writes_nothing_after_it(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    sid = "batched-sent"
    journeys = _driver(temporal, settings, store, sid, "abandoned_cart/reminder")
    customer = journeys.customer()
    await journeys.send(customer, "batch.go", cart_total=20, **CART_PROPS)
    await journeys.idle(sid, customer)

    async def waiting() -> None:  # entered and waiting are in the store during the wait
        assert _facts(store, journeys, sid) == [
            ("entered", "1"),
            ("completed", "0"),
            ("running", "1"),
        ]

    await eventually(waiting)
    state = await journeys.finish(sid, customer)
    assert [m.status for m in state.messages] == ["sent"]
    assert _facts(store, journeys, sid) == [("entered", "1"), ("completed", "1"), ("running", "0")]
    assert await _local_activities_after_last_send(journeys, sid, customer) == []


async def test_a_last_send_that_fails_leaves_the_end_to_the_journey(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    sid = "batched-failed"
    journeys = _driver(temporal, settings, store, sid, "no_such/template")
    customer = journeys.customer()
    await journeys.send(customer, "batch.go")
    state = await journeys.finish(sid, customer)
    assert [m.status for m in state.messages] == ["failed"]
    assert _facts(store, journeys, sid) == [("entered", "1"), ("completed", "1"), ("running", "0")]
    assert await _local_activities_after_last_send(journeys, sid, customer) == ["record_facts"]
