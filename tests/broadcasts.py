"""Helpers for tests of one-off broadcasts: the shipped broadcast moved to a moment just
ahead, and waiting (on the server's word, not a clock) for its schedule to fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client, ScheduleDescription

from journeys.app.driver import eventually
from journeys.model.scenario import Scenario


def at_moment(scenario: Scenario, moment: datetime) -> Scenario:
    schedule = scenario.trigger.schedule
    assert schedule is not None
    trigger = scenario.trigger.model_copy(
        update={"schedule": schedule.model_copy(update={"at": moment})}
    )
    return scenario.model_copy(update={"trigger": trigger})


def seconds_ahead(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


async def describe(client: Client, schedule_id: str) -> ScheduleDescription:
    return await client.get_schedule_handle(schedule_id).describe()


async def fired_once(client: Client, schedule_id: str) -> ScheduleDescription:
    async def once() -> ScheduleDescription:
        described = await describe(client, schedule_id)
        assert described.info.num_actions >= 1, "not fired yet"
        return described

    return await eventually(once, timeout=60)
