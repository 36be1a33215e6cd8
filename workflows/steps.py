"""One small handler per step kind.

Each handler runs one of the compiled steps (``journeys.model.ops``) and returns the next
``pc``, or ``None`` when the journey ends there. Handlers see the journey only through
``StepJourney``. Waits go through ``journey.wait_until`` so that an exit event or a
restarting trigger interrupts them at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c
    from journeys.model.counter_contracts import AWARD_BADGE, BadgeRequest
    from journeys.model.durations import format_duration
    from journeys.model.journey_state import MESSAGES_LIMIT, SentMessage
    from journeys.model.limits import wait_problem
    from journeys.model.ops import Op
    from journeys.model.scenario import (
        IfStep,
        SendStep,
        SplitStep,
        UpdateStep,
        WaitForStep,
        WaitStep,
        WaitUntilStep,
    )

from workflows.coupon_step import run_coupon
from workflows.local_calls import StepFailed, call_local
from workflows.step_journey import StepJourney

# Delivery keeps retrying transient failures for a day; permanent ones fail at once.
DELIVERY = {
    "start_to_close_timeout": timedelta(minutes=2),
    "schedule_to_close_timeout": timedelta(days=1),
    # A dead worker is noticed in seconds (the activity heartbeats while it waits on a
    # provider), not after the whole start-to-close timeout.
    "heartbeat_timeout": timedelta(seconds=10),
    "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)
    ),
}

Handler = Callable[[StepJourney, Op], Awaitable[int | None]]


async def run_wait(journey: StepJourney, op: Op) -> int | None:
    assert isinstance(op.step, WaitStep)
    _within_limits(journey, "wait", op.step.duration)
    if journey.progress.deadline is None:  # not when resuming after an interruption
        await journey.fact("waiting", op.step.id)
    await journey.wait_until(journey.deadline(lambda now: now + op.step.duration))
    return journey.progress.pc + 1


async def run_wait_until(journey: StepJourney, op: Op) -> int | None:
    step = op.step
    assert isinstance(step, WaitUntilStep)
    if journey.progress.deadline is None:
        await journey.fact("waiting", step.id)
        request = c.WaitUntilRequest(
            time=step.time,
            at=step.at,
            offset=step.offset,
            calendar_offset=step.calendar_offset,
            context=journey.context(),
        )
        moment = await call_local(
            journey, f"step '{step.id}'", c.RESOLVE_WAIT_UNTIL, request, datetime
        )
        journey.progress.deadline = max(moment, workflow.now())
    await journey.wait_until(journey.progress.deadline)
    return journey.progress.pc + 1


async def run_wait_for(journey: StepJourney, op: Op) -> int | None:
    step = op.step
    assert isinstance(step, WaitForStep)
    _within_limits(journey, "timeout", step.timeout)
    if journey.progress.deadline is None:
        await journey.fact("waiting", step.id)
    deadline = journey.deadline(lambda now: now + step.timeout)
    while True:
        event = await journey.wait_for_event(step.event, deadline)
        if event is None:
            journey.note(step.id, f"no {step.event} within {format_duration(step.timeout)}")
            next_pc = op.targets[0]
            break
        context = journey.context().model_copy(update={"last_event": event})
        try:
            matched = step.where is None or await condition(journey, step.id, step.where, context)
        except StepFailed as failed:  # a filter that fails on this event: it does not match
            journey.note(step.id, f"{step.event} did not match 'where' ({failed}); still waiting")
            continue
        if matched:
            journey.progress.last_event = event
            journey.note(step.id, f"received {step.event}")
            next_pc = journey.progress.pc + 1
            break
        journey.note(step.id, f"{step.event} did not match 'where'; still waiting")
    journey.progress.inbox.clear()  # a later wait_for counts what happens after this one
    return next_pc


async def run_if(journey: StepJourney, op: Op) -> int | None:
    assert isinstance(op.step, IfStep)
    result = await condition(journey, op.step.id, op.step.condition)
    journey.note(op.step.id, f"condition is {'true' if result else 'false'}")
    return journey.progress.pc + 1 if result else op.targets[0]


async def run_split(journey: StepJourney, op: Op) -> int | None:
    """Hash-based, not random: a customer lands in the same variant on every entry and replay."""
    step = op.step
    assert isinstance(step, SplitStep)
    seed = f"{journey.scenario.id}/{step.id}/{journey.customer_id}".encode()
    digest = hashlib.sha256(seed).digest()
    if int.from_bytes(digest[:4], "big") % 100 < step.holdout:
        journey.note(step.id, "in the holdout group")
        journey.progress.exit_reason = f"holdout of split '{step.id}'"
        return None
    point = int.from_bytes(digest[4:8], "big") % sum(v.weight for v in step.variants)
    for variant, start in zip(step.variants, op.targets, strict=True):
        if point < variant.weight:
            journey.note(step.id, f"variant {variant.name}")
            return start
        point -= variant.weight
    raise AssertionError("unreachable: point is below the total weight")


async def run_send(journey: StepJourney, op: Op) -> int | None:
    step = op.step
    assert isinstance(step, SendStep)
    while True:
        message, retry_at = await _deliver(journey, step)
        if retry_at is None:
            break
        # Quiet hours in the customer's time zone: wait for the window, then ask again.
        journey.note(step.id, f"deferred: {message.detail}")
        await journey.wait_until(journey.deadline(lambda _now, at=retry_at: at))
        journey.progress.deadline = None
    journey.progress.messages = [*journey.progress.messages, message][-MESSAGES_LIMIT:]
    journey.note(
        step.id, f"{message.status}: {message.detail}" if message.detail else message.status
    )
    return journey.progress.pc + 1


async def _deliver(journey: StepJourney, step: SendStep) -> tuple[SentMessage, datetime | None]:
    """One delivery attempt as the journey sees it: the message record and, when deferred,
    the moment to try again."""
    info = workflow.info()
    facts, end = journey.facts_for_send()
    request = c.DeliverRequest(
        delivery_key=journey.step_key(step.id),
        entry_id=journey.progress.entry_id,
        workflow_id=info.workflow_id,
        run_id=info.run_id,
        scenario_id=journey.scenario.id,
        step_id=step.id,
        channels=step.channels,
        template=step.template,
        purpose=step.purpose or journey.scenario.category,
        context=journey.context(),
        facts=facts,
        end=end,
    )
    handle = workflow.start_activity(c.DELIVER, request, result_type=c.DeliverResult, **DELIVERY)
    # A delivery may retry for hours (provider down); an exit event stops the retries,
    # so a customer who ordered meanwhile never gets "you left something in your cart".
    await workflow.wait_condition(lambda: handle.done() or journey.exit_queued())
    stopped = not handle.done()
    if stopped:
        handle.cancel()  # an attempt in flight finishes (sent or not); no retry follows
    try:
        result = await handle
    except ActivityError as err:
        journey.facts_sent(False)
        # A failed message is recorded and the journey goes on, like a bounced email would.
        if stopped or isinstance(err.cause, CancelledError):
            status, detail = "cancelled", "stopped by an exit event"
        else:
            status, detail = "failed", err.cause.message if err.cause else str(err)
        return SentMessage(step_id=step.id, status=status, at=workflow.now(), detail=detail), None
    journey.facts_sent(result.facts_recorded)
    detail = "; ".join(f"{d.channel}: {d.reason or d.status}" for d in result.decisions)
    message = SentMessage(
        step_id=step.id,
        status=result.status,
        channel=result.channel,
        at=workflow.now(),
        detail=detail,
    )
    return message, result.retry_at


async def run_update(journey: StepJourney, op: Op) -> int | None:
    assert isinstance(op.step, UpdateStep)
    step = op.step
    key = journey.step_key(step.id)
    if step.set:
        request = c.UpdateRequest(values=step.set, context=journey.context(), key=key)
        applied = await call_local(journey, f"step '{step.id}'", c.UPDATE_CUSTOMER, request, dict)
        journey.note(step.id, "set " + ", ".join(f"{k}={v!r}" for k, v in applied.items()))
    if step.points is not None:  # a field added after v1: older steps never get here
        points = c.PointsRequest(
            points=step.points, reason=step.reason or step.id, context=journey.context(), key=key
        )
        outcome = await call_local(journey, f"step '{step.id}'", c.CHANGE_POINTS, points, str)
        journey.note(step.id, outcome)
    if step.badge is not None:  # a field added with counters: older steps never get here
        badge = BadgeRequest(badge=step.badge, context=journey.context(), key=key)
        outcome = await call_local(journey, f"step '{step.id}'", AWARD_BADGE, badge, str)
        journey.note(step.id, outcome)
    return journey.progress.pc + 1


async def run_exit(journey: StepJourney, op: Op) -> int | None:
    assert op.step is not None and op.step.kind == "exit"
    journey.progress.exit_reason = op.step.reason  # type: ignore[union-attr]
    return None


async def run_jump(journey: StepJourney, op: Op) -> int | None:
    return op.targets[0]


async def condition(
    journey: StepJourney,
    step_id: str,
    expression: str,
    context: c.JourneyContext | None = None,
) -> bool:
    """Raises StepFailed when the expression fails for this customer (see local_calls)."""
    request = c.ConditionRequest(expression=expression, context=context or journey.context())
    what = f"step '{step_id}'" if step_id else "entry"
    result: Any = await call_local(journey, what, c.EVALUATE_CONDITION, request, bool)
    return bool(result)


def _within_limits(journey: StepJourney, what: str, duration: timedelta) -> None:
    """A wait past ``journeys.model.limits`` (validate refuses it; a journey input may still carry
    one) fails its step instead of overflowing a date in workflow code."""
    if journey.step_errors and (problem := wait_problem(what, duration)):
        raise StepFailed(problem)


HANDLERS: dict[str, Handler] = {
    "wait": run_wait,
    "wait_until": run_wait_until,
    "wait_for": run_wait_for,
    "if": run_if,
    "split": run_split,
    "send": run_send,
    "update": run_update,
    "exit": run_exit,
    "jump": run_jump,
    "coupon": run_coupon,
}
