"""Temporal Schedules for scheduled scenarios and the loyalty program's daily run.

The worker calls ``sync_schedules`` at start: it creates or updates one schedule per
scheduled scenario and deletes those whose scenario file is gone, so the scenario folder
is the only place a marketer changes when audiences are scanned. Ids carry the task queue,
so two deployments sharing a namespace never touch each other's schedules.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from journeys.authoring.registry import ScenarioRegistry
from journeys.model.scan_contracts import DailyInput, ScanInput
from journeys.model.scenario import Scenario
from journeys.process.clock import utcnow

log = logging.getLogger(__name__)

# The daily loyalty run: settle points, review tiers, score RFM (02:00 UTC, off-peak).
DAILY_CRON = "0 2 * * *"


def audience_prefix(task_queue: str) -> str:
    return f"journeys/{task_queue}/audience/"


def daily_schedule_id(task_queue: str) -> str:
    return f"journeys/{task_queue}/loyalty-daily"


def _policy() -> SchedulePolicy:
    # A scan still running when the next is due is not doubled: the next one catches up.
    return SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1))


def scenario_schedule(scenario: Scenario, task_queue: str) -> Schedule:
    trigger = scenario.trigger
    assert trigger.schedule is not None, "only scheduled scenarios have a schedule"
    moment = trigger.schedule.at
    if moment is not None:
        return _broadcast_schedule(scenario, moment, task_queue)
    spec = (
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=trigger.schedule.every)])
        if trigger.schedule.every is not None
        else ScheduleSpec(cron_expressions=[trigger.schedule.cron or ""])
    )
    return Schedule(action=_scan(scenario, task_queue), spec=spec, policy=_policy())


def _scan(
    scenario: Scenario, task_queue: str, at: datetime | None = None
) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        "AudienceScanWorkflow",
        ScanInput(scenario_id=scenario.id, at=at),
        id=f"journeys/{task_queue}/scan/{scenario.id}",
        task_queue=task_queue,
    )


def _broadcast_schedule(scenario: Scenario, moment: datetime, task_queue: str) -> Schedule:
    """A schedule that fires once, at ``moment``: a calendar naming that very second of that
    year (it cannot match again), one action allowed (``remaining_actions``), and the scan
    evaluated as of the moment itself (``at``), so its occasion ``scan:<moment>`` is the
    same however many times it would run: each customer enters once."""
    utc = moment.astimezone(UTC)
    calendar = ScheduleCalendarSpec(
        second=[ScheduleRange(utc.second)],
        minute=[ScheduleRange(utc.minute)],
        hour=[ScheduleRange(utc.hour)],
        day_of_month=[ScheduleRange(utc.day)],
        month=[ScheduleRange(utc.month)],
        year=[ScheduleRange(utc.year)],
        day_of_week=[ScheduleRange(0, 6)],
    )
    return Schedule(
        action=_scan(scenario, task_queue, at=utc),
        spec=ScheduleSpec(calendars=[calendar], time_zone_name="UTC"),
        # Missed while the server was down: caught up within the policy's window; a worker
        # starting after the moment deletes it instead (``broadcast_is_past``).
        policy=_policy(),
        state=ScheduleState(
            note=f"broadcast of {scenario.id} at {utc.isoformat()}",
            limited_actions=True,
            remaining_actions=1,
        ),
    )


def broadcast_is_past(scenario: Scenario, now: datetime) -> bool:
    """A broadcast whose moment has come: a starting worker schedules it no more (it ran,
    or it was missed; either way a scan long after the date would be wrong)."""
    schedule = scenario.trigger.schedule
    return schedule is not None and schedule.at is not None and schedule.at <= now


def daily_schedule(task_queue: str) -> Schedule:
    action = ScheduleActionStartWorkflow(
        "LoyaltyDailyWorkflow",
        DailyInput(),
        id=f"journeys/{task_queue}/loyalty-daily",
        task_queue=task_queue,
    )
    return Schedule(
        action=action, spec=ScheduleSpec(cron_expressions=[DAILY_CRON]), policy=_policy()
    )


async def upsert_schedule(client: Client, schedule_id: str, schedule: Schedule) -> str:
    """Creates the schedule, or replaces its definition; returns "created" or "updated".

    Worker replicas start together and all run this: the create that loses the race updates
    instead (each writes the same definition), and a schedule another process deleted
    between our create and our update is created again.
    """

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    for _ in range(3):
        try:
            await client.create_schedule(schedule_id, schedule)
            return "created"
        except ScheduleAlreadyRunningError:
            pass
        try:
            await client.get_schedule_handle(schedule_id).update(replace)
            return "updated"
        except RPCError as err:
            if not _gone(err):
                raise
    raise RuntimeError(f"schedule {schedule_id} kept being deleted while it was created")


async def delete_schedule(client: Client, schedule_id: str) -> str:
    """Deletes a schedule; one another replica deleted first is "already deleted" (the
    listing is eventually consistent, so every starting replica may see it)."""
    try:
        await client.get_schedule_handle(schedule_id).delete()
        return "deleted"
    except RPCError as err:
        if not _gone(err):
            raise
        return "already deleted"


def _gone(err: RPCError) -> bool:
    # The server answers NOT_FOUND for a schedule that is gone ("workflow execution already
    # completed" when its deletion has just happened).
    return err.status == RPCStatusCode.NOT_FOUND


async def sync_schedules(
    client: Client, registry: ScenarioRegistry, task_queue: str
) -> dict[str, str]:
    """Makes the server's schedules match the scenario folder; returns id → what was done.

    A broadcast whose moment has passed is left out (and its schedule, if still listed,
    deleted like a removed file's): a re-sync never makes it fire again.
    """
    prefix = audience_prefix(task_queue)
    now = utcnow()
    scheduled = [s for s in registry.scenarios.values() if s.trigger.scheduled]
    past = {prefix + s.id: s for s in scheduled if broadcast_is_past(s, now)}
    wanted = {
        prefix + s.id: scenario_schedule(s, task_queue)
        for s in scheduled
        if prefix + s.id not in past
    }
    wanted[daily_schedule_id(task_queue)] = daily_schedule(task_queue)
    done = {sid: await upsert_schedule(client, sid, sched) for sid, sched in wanted.items()}
    done |= dict.fromkeys(past, "past")  # logged below: "schedule ...: past"
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix) and listed.id not in wanted:
            gone = await delete_schedule(client, listed.id)
            done[listed.id] = f"past, {gone}" if listed.id in past else gone
    for schedule_id, what in sorted(done.items()):
        log.info("schedule %s: %s", schedule_id, what)
    return done
