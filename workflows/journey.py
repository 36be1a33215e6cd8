"""JourneyWorkflow: carries one customer through one scenario snapshot.

Events arrive as signals (deduplicated by event id). Exit events and restarting triggers
interrupt any wait at once; the step handlers live in ``workflows.steps``. The scenario
travels in the input, so a journey finishes on the definition it started with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys import contracts as c
    from journeys.events import Event
    from journeys.journey_state import (
        SEEN_IDS_LIMIT,
        TIMELINE_LIMIT,
        EventSeen,
        JourneyInput,
        JourneyProgress,
        JourneyState,
        TimelineEntry,
    )
    from journeys.program import compile_steps
    from journeys.scenario import WaitForStep

from workflows.steps import HANDLERS, LOCAL, condition


class Interrupted(Exception):
    """An exit event or a restarting trigger arrived while the journey was waiting."""


@workflow.defn(name="JourneyWorkflow")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self.input = input
        self.scenario = input.scenario
        self.customer_id = input.customer_id
        self.program = compile_steps(self.scenario.steps)
        self.progress = input.progress or JourneyProgress()
        self._seen = set(self.progress.seen_ids)
        self._awaitable = {s.event for s in self.scenario.walk() if isinstance(s, WaitForStep)}
        self._waiting_for: str | None = None

    # ---- signals and queries -------------------------------------------------------------

    @workflow.signal(name="event")
    def on_event(self, event: Event) -> None:
        p = self.progress
        if event.id in self._seen:
            return
        self._seen.add(event.id)
        p.seen_ids = [*p.seen_ids, event.id][-SEEN_IDS_LIMIT:]
        effects = [self._goal(event), self._route(event)]
        if event.name in self._awaitable and p.status == "running":
            p.inbox.append(event)  # kept for a wait_for, even one that starts a moment later
            effects.append("kept for wait_for")
        effect = ", ".join(e for e in effects if e) or "ignored"
        p.events.append(EventSeen(id=event.id, name=event.name, at=workflow.now(), effect=effect))
        p.events = p.events[-TIMELINE_LIMIT:]
        self.note("event", f"{event.name}: {effect}")

    def _goal(self, event: Event) -> str:
        goal, p = self.scenario.goal, self.progress
        if not goal or event.name != goal.event or p.goal_reached_at or not p.entered_at:
            return ""
        if workflow.now() - p.entered_at > goal.within:
            return "goal window over"
        p.goal_reached_at = workflow.now()
        return "goal reached"

    def _route(self, event: Event) -> str:
        p = self.progress
        if event.name in self.scenario.exit_on and p.status == "running":
            p.exit_reason = f"exit on {event.name}"
            return "exit"
        if event.name != self.scenario.trigger.event:
            return ""
        restartable = self.scenario.entry.reentry == "restart" and p.status == "running"
        if p.status in ("waiting-for-trigger", "completed", "exited", "not-entered") or restartable:
            p.pending.append(event)
            return "trigger"
        return f"ignored: re-entry policy '{self.scenario.entry.reentry}'"

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        p = self.progress
        op = self.program[p.pc] if p.status == "running" and p.pc < len(self.program) else None
        return JourneyState(
            scenario_id=self.scenario.id,
            scenario_version=self.scenario.version,
            customer_id=self.customer_id,
            status=p.status,
            current_step=op.step_id if op else None,
            waiting_until=p.hold_until if p.status == "holding" else p.deadline,
            waiting_for=self._waiting_for,
            entries=p.entries,
            goal_reached_at=p.goal_reached_at,
            exit_reason=p.exit_reason,
            events=p.events,
            messages=p.messages,
            timeline=p.timeline,
        )

    # ---- the interpreter -----------------------------------------------------------------

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyState:
        p = self.progress
        if p.status == "waiting-for-trigger":
            await workflow.wait_condition(lambda: bool(p.pending))
        while True:
            if p.status == "running":
                await self._run_entry()
                if self.scenario.entry.reentry == "once_per":
                    await self._hold()
            elif p.pending:
                await self._enter(p.pending.pop(0))
            else:
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _enter(self, trigger: Event) -> bool:
        """Applies the entry filter and re-entry policy; starts a new entry when allowed."""
        p = self.progress
        entry = self.scenario.entry
        saved = (p.trigger, p.last_event)
        p.trigger = p.last_event = trigger
        entry_id = str(workflow.uuid4())
        allowed = entry.condition is None or await condition(self, entry.condition)
        if allowed and entry.reentry == "once":
            request = c.EntryRequest(
                workflow_id=workflow.info().workflow_id,
                scenario_id=self.scenario.id,
                customer_id=self.customer_id,
                entry_id=entry_id,
                policy=entry.reentry,
                now=workflow.now(),
            )
            allowed = await workflow.execute_local_activity(
                c.RECORD_ENTRY, request, result_type=bool, **LOCAL
            )
        if not allowed:
            p.trigger, p.last_event = saved
            self.note("entry", f"{trigger.name} {trigger.id} did not enter")
            if p.status == "waiting-for-trigger":
                p.status = "not-entered"
            return False
        restarted = p.status == "running"
        p.status, p.entry_id, p.pc, p.deadline = "running", entry_id, 0, None
        p.entries += 1
        p.entered_at = workflow.now()
        p.exit_reason = ""
        p.goal_reached_at = None
        p.inbox.clear()
        self.note("entry", f"{'restarted' if restarted else 'entered'} on {trigger.name}")
        return True

    async def _run_entry(self) -> None:
        p = self.progress
        while p.pc < len(self.program):
            try:
                self._check_interrupt()
                await self._maybe_continue_as_new()
                next_pc = await HANDLERS[self.program[p.pc].kind](self, self.program[p.pc])
            except Interrupted:
                if p.exit_reason:
                    break
                if not await self._enter(p.pending.pop(0)):
                    continue  # not entered: resume the same step (its deadline is kept)
                continue
            p.deadline = None
            if next_pc is None:
                break
            p.pc = next_pc
        p.status = "exited" if p.exit_reason else "completed"
        p.deadline = None
        self.note("end", p.exit_reason or "completed")

    async def _hold(self) -> None:
        """once_per: stay alive for the period so triggers inside it are seen and ignored."""
        p = self.progress
        assert p.entered_at is not None and self.scenario.entry.once_per is not None
        p.hold_until = p.entered_at + self.scenario.entry.once_per
        p.status = "holding"
        self.note("hold", f"re-entry closed until {p.hold_until.isoformat()}")
        await self._sleep(p.hold_until, lambda: False)
        p.status, p.hold_until = "completed", None
        p.pending.clear()

    # ---- helpers used by step handlers ------------------------------------------------------

    def context(self) -> c.JourneyContext:
        p = self.progress
        return c.JourneyContext(
            customer_id=self.customer_id,
            event=p.trigger,
            last_event=p.last_event,
            now=workflow.now(),
        )

    def deadline(self, compute: Callable[[datetime], datetime]) -> datetime:
        p = self.progress
        if p.deadline is None:
            p.deadline = compute(workflow.now())
        return p.deadline

    async def wait_until(self, deadline: datetime) -> None:
        """A timed wait. Events kept for a wait_for before it are dropped when it ends: a
        wait_for after a wait counts what happens after that wait, as a marketer reads it."""
        await self._sleep(deadline, self._interrupt_pending)
        self._check_interrupt()
        self.progress.inbox.clear()

    async def wait_for_event(self, name: str, deadline: datetime) -> Event | None:
        self._waiting_for = name
        try:
            await self._sleep(deadline, lambda: self._kept(name) or self._interrupt_pending())
            self._check_interrupt()
            found = self._kept(name)
            if found:
                self.progress.inbox.remove(found)
            return found
        finally:
            self._waiting_for = None

    def _kept(self, name: str) -> Event | None:
        return next((e for e in self.progress.inbox if e.name == name), None)

    async def _sleep(self, deadline: datetime, wake: Callable[[], bool]) -> None:
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):  # the deadline passing is the normal case
            await workflow.wait_condition(wake, timeout=remaining)

    def note(self, step_id: str, text: str) -> None:
        p = self.progress
        p.timeline.append(TimelineEntry(at=workflow.now(), step_id=step_id, note=text))
        p.timeline = p.timeline[-TIMELINE_LIMIT:]

    def _interrupt_pending(self) -> bool:
        p = self.progress
        return bool(p.exit_reason) or bool(p.pending)

    def _check_interrupt(self) -> None:
        if self._interrupt_pending():
            raise Interrupted

    async def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        limit = self.input.history_limit
        too_long = limit is not None and info.get_current_history_length() > limit
        if too_long or info.is_continue_as_new_suggested():
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                JourneyInput(
                    scenario=self.scenario,
                    customer_id=self.customer_id,
                    progress=self.progress,
                    history_limit=limit,
                )
            )
