"""Temporal Schedules follow the scenario folder: created, updated in place, and removed
with the file; the daily loyalty run is always there."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import ScheduleActionStartWorkflow, ScheduleListDescription
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.temporal.schedules import audience_prefix, daily_schedule_id, sync_schedules

QUEUE = "schedules-test"  # ids carry the task queue: nothing else's schedules are touched


async def listed(env: WorkflowEnvironment) -> dict[str, ScheduleListDescription]:
    return {s.id: s async for s in await env.client.list_schedules()}


async def test_schedules_are_created_updated_and_removed_with_their_scenario(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry
) -> None:
    birthday, expiry = registry.get("birthday"), registry.get("points-expiry")
    prefix = audience_prefix(QUEUE)

    done = await sync_schedules(temporal.client, ScenarioRegistry([birthday, expiry]), QUEUE)
    assert done == {
        prefix + "birthday": "created",
        prefix + "points-expiry": "created",
        daily_schedule_id(QUEUE): "created",
    }
    described = await temporal.client.get_schedule_handle(prefix + "birthday").describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("AudienceScanWorkflow", QUEUE)
    assert action.id == f"journeys/{QUEUE}/scan/birthday"  # another deployment's never clash
    assert described.schedule.spec.intervals[0].every == timedelta(hours=1)

    # The marketer changes the birthday scan to daily: the schedule is updated in place.
    daily_birthday = birthday.model_copy(
        update={
            "trigger": birthday.trigger.model_copy(
                update={
                    "schedule": birthday.trigger.schedule.model_copy(  # type: ignore[union-attr]
                        update={"every": timedelta(days=1)}
                    )
                }
            )
        }
    )
    again = await sync_schedules(temporal.client, ScenarioRegistry([daily_birthday, expiry]), QUEUE)
    assert again[prefix + "birthday"] == "updated"
    described = await temporal.client.get_schedule_handle(prefix + "birthday").describe()
    assert described.schedule.spec.intervals[0].every == timedelta(days=1)

    # points_expiry.yaml is deleted: its schedule goes. Deletion works from the listing,
    # which is eventually consistent: wait until the server lists the schedule first.
    async def visible() -> None:
        assert prefix + "points-expiry" in await listed(temporal)

    await eventually(visible, timeout=30)
    done = await sync_schedules(temporal.client, ScenarioRegistry([daily_birthday]), QUEUE)
    assert done[prefix + "points-expiry"] == "deleted"
    with pytest.raises(RPCError) as gone:
        await temporal.client.get_schedule_handle(prefix + "points-expiry").describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    await temporal.client.get_schedule_handle(prefix + "birthday").describe()  # still there


async def test_workers_starting_together_sync_schedules_without_tripping_on_each_other(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry
) -> None:
    """Replicas of the worker start at the same moment (compose ``replicas``, a Helm
    rollout): each creates what the others create and deletes what the others delete,
    from a listing that still shows what another has just deleted."""
    queue = "schedules-race"
    prefix = audience_prefix(queue)
    await sync_schedules(temporal.client, registry, queue)  # birthday, points-expiry, daily

    async def visible() -> None:
        assert prefix + "points-expiry" in await listed(temporal)

    await eventually(visible, timeout=30)
    # points_expiry.yaml is deleted and four replicas start with the new folder.
    kept = ScenarioRegistry([registry.get("birthday")])
    results = await asyncio.gather(
        *(sync_schedules(temporal.client, kept, queue) for _ in range(4))
    )
    for done in results:
        assert done[prefix + "birthday"] == "updated"
        assert done[daily_schedule_id(queue)] == "updated"
    deleted = [
        done[prefix + "points-expiry"] for done in results if prefix + "points-expiry" in done
    ]
    assert set(deleted) <= {"deleted", "already deleted"} and deleted

    async def settled() -> None:
        ours = {sid for sid in await listed(temporal) if sid.startswith(prefix)}
        assert ours == {prefix + "birthday"}

    await eventually(settled, timeout=30)
