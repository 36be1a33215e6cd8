"""One-off broadcasts on the real Temporal server: a schedule that fires once at its moment,
none for a moment already past, one however many workers sync at once, and no second run
when a worker syncs again after it fired.

The moments are a few seconds ahead of the server's clock (a schedule fires on real time);
the tests wait for the server to report what it did, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from journeys.authoring.registry import ScenarioRegistry
from journeys.model.scan_contracts import ScanInput
from journeys.temporal.schedules import audience_prefix, sync_schedules
from tests.broadcasts import at_moment, describe, fired_once, seconds_ahead

SALE = "vip-private-sale"


async def test_a_broadcast_fires_once_at_its_moment(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry
) -> None:
    queue = f"broadcast-{uuid.uuid4().hex[:6]}"  # no worker: the scan is started, not run
    moment = seconds_ahead(8)  # time enough to read the schedule before it fires, under load
    sale = at_moment(registry.get(SALE), moment)
    schedule_id = audience_prefix(queue) + SALE

    done = await sync_schedules(temporal.client, ScenarioRegistry([sale]), queue)
    assert done[schedule_id] == "created"
    described = await describe(temporal.client, schedule_id)
    [calendar] = described.schedule.spec.calendars
    fields = (calendar.year, calendar.month, calendar.day_of_month, calendar.hour)
    assert [r[0].start for r in fields] == [moment.year, moment.month, moment.day, moment.hour]
    assert (calendar.minute[0].start, calendar.second[0].start) == (moment.minute, moment.second)
    assert described.schedule.state.limited_actions
    assert described.schedule.state.remaining_actions == 1
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    [scan_input] = await temporal.client.data_converter.decode(action.args, [ScanInput])
    assert scan_input.at == moment  # every run of it is about the same moment
    assert [t.replace(microsecond=0) for t in described.info.next_action_times] == [moment]

    described = await fired_once(temporal.client, schedule_id)

    assert described.info.num_actions == 1
    assert described.schedule.state.remaining_actions == 0
    assert described.info.next_action_times == []  # nothing left to fire, ever
    [run] = described.info.recent_actions
    assert run.scheduled_at == moment

    # A worker starting after the moment: no schedule for it, and the fired one is removed.
    done = await sync_schedules(temporal.client, ScenarioRegistry([sale]), queue)
    assert done[schedule_id] in ("past, deleted", "past")
    with pytest.raises(RPCError) as gone:
        await describe(temporal.client, schedule_id)
    assert gone.value.status == RPCStatusCode.NOT_FOUND


async def test_a_broadcast_already_past_gets_no_schedule(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry
) -> None:
    queue = f"broadcast-{uuid.uuid4().hex[:6]}"
    sale = at_moment(registry.get(SALE), seconds_ahead(-60))

    done = await sync_schedules(temporal.client, ScenarioRegistry([sale]), queue)

    assert done[audience_prefix(queue) + SALE] == "past"
    with pytest.raises(RPCError) as gone:
        await describe(temporal.client, audience_prefix(queue) + SALE)
    assert gone.value.status == RPCStatusCode.NOT_FOUND


async def test_workers_syncing_at_once_make_one_broadcast_that_fires_once(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry
) -> None:
    queue = f"broadcast-{uuid.uuid4().hex[:6]}"
    sale = ScenarioRegistry([at_moment(registry.get(SALE), seconds_ahead(5))])
    schedule_id = audience_prefix(queue) + SALE

    results = await asyncio.gather(
        *(sync_schedules(temporal.client, sale, queue) for _ in range(4))
    )

    assert sorted(done[schedule_id] for done in results) == [
        "created",
        "updated",
        "updated",
        "updated",
    ]
    described = await fired_once(temporal.client, schedule_id)
    assert described.info.num_actions == 1
    assert described.info.next_action_times == []
