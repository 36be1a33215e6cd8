"""Cron lines: what `journeys validate` accepts is what Temporal runs, with the same meaning.

The pure checks first, then the same lines given to the real server's Schedules: what we
accept it accepts and fires; what we call "never fires" it accepts and never fires; what we
refuse it either refuses or reads differently from what the line seems to say.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleSpec,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from journeys.model.cron import cron_problem

FIRES = [
    "* * * * *",
    "0 9 * * *",
    "0 */6 * * *",
    "5/15 9-17 * * mon-fri",
    "0 9 1 jan *",
    "30 8 * * SUN",
    "0 9 * * 0,7",
    "0 9 * * 7",
    "0 9 13 * 5",  # Friday the 13th: both must match, as Temporal reads it
    "0 9 29 2 *",  # leap days: every four years
    "0 9 31 * *",
    "0 0 1-7 * 1",
]
NEVER = ["0 0 31 2 *", "0 0 30 2 *", "0 9 31 4,6,9,11 *"]
RARE = ["0 9 29 2 1"]  # a Monday 29 February: once in 28 years
REFUSED_BY_TEMPORAL = [
    "99 99 * * *",
    "60 9 * * *",
    "0 24 * * *",
    "0 9 0 * *",
    "0 9 * 13 *",
    "0 9 * * 8",
    "*/0 * * * *",
    "0 9 5-1 * *",
    "0 9 L * *",
    "0 9 1W * *",
    "0 9 ? * *",
    "0 9 1, * *",
]
MISREAD_BY_TEMPORAL = ["0 9 * * 1#2", "0 9 * * 1-7"]


@pytest.mark.parametrize("line", FIRES)
def test_plain_lines_are_accepted(line: str) -> None:
    assert cron_problem(line) is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("99 99 * * *", "'99 99 * * *' is not a cron line Temporal can run: minute '99' is "
         "outside 0-59"),
        ("0 9 5-1 * *", "'0 9 5-1 * *' is not a cron line Temporal can run: day of month "
         "'5-1' runs backwards: write the lower value first"),
        ("*/0 * * * *", "'*/0 * * * *' is not a cron line Temporal can run: minute '*/0' has "
         "a step of 0"),
        ("0 9 * * 1#2", "'0 9 * * 1#2' is not a cron line Temporal can run: weekday '1#2' is "
         "not a number, a range (1-5), a list (1,15), '*' or a step (*/15)"),
        ("0 9 * * 1-7", "'0 9 * * 1-7' is not a cron line Temporal can run: weekday '1-7': "
         "Sunday is 0 in a range (0-6); 7 is Sunday only alone"),
        ("0 9 * * monday", "'0 9 * * monday' is not a cron line Temporal can run: weekday "
         "'monday': not a number or a three-letter name"),
        ("0 0 31 2 *", "'0 0 31 2 *' never fires: no date has that day of month, month and "
         "weekday"),
        ("0 9 29 2 1", "'0 9 29 2 1' fires less than once every four years (both the day of "
         "month and the weekday must match)"),
        ("0 9 * *", "'0 9 * *' is not a cron line: five fields, minute hour day month weekday"),
    ],
)
def test_refused_lines_say_why(line: str, problem: str) -> None:
    assert cron_problem(line) == problem


@pytest.fixture
async def schedules(temporal: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    created: list[str] = []
    yield created
    for schedule_id in created:
        await temporal.client.get_schedule_handle(schedule_id).delete()


async def on_temporal(
    temporal: WorkflowEnvironment, created: list[str], line: str
) -> ScheduleDescription:
    schedule_id = f"cron-test/{uuid.uuid4().hex[:8]}"
    action = ScheduleActionStartWorkflow("Never", id=schedule_id, task_queue="cron-test")
    schedule = Schedule(action=action, spec=ScheduleSpec(cron_expressions=[line]))
    handle = await temporal.client.create_schedule(schedule_id, schedule)
    created.append(schedule_id)
    return await handle.describe()


async def test_temporal_agrees(temporal: WorkflowEnvironment, schedules: list[str]) -> None:
    for line in FIRES:
        described = await on_temporal(temporal, schedules, line)
        assert described.info.next_action_times, line
    for line in NEVER + RARE:
        assert cron_problem(line) is not None
        described = await on_temporal(temporal, schedules, line)
        times = described.info.next_action_times
        assert len({t.year for t in times}) == len(times), line  # at most once a year...
        if line in NEVER:
            assert times == [], line  # ...and these never
    for line in REFUSED_BY_TEMPORAL:
        assert cron_problem(line) is not None
        with pytest.raises(RPCError, match="Invalid schedule spec"):
            await on_temporal(temporal, schedules, line)
    # Accepted by Temporal, but not with the meaning the line seems to have:
    second_monday, every_day = [
        (await on_temporal(temporal, schedules, line)).info.next_action_times
        for line in MISREAD_BY_TEMPORAL
    ]
    assert cron_problem(MISREAD_BY_TEMPORAL[0]) and cron_problem(MISREAD_BY_TEMPORAL[1])
    assert any(t.day > 14 for t in second_monday)  # every Monday, not the second one
    assert len(every_day) >= 7
    assert all(t.isoweekday() != 7 for t in every_day)  # Sunday is left out
