"""JourneyWorkflow: carries one customer through one scenario snapshot.

Events arrive as signals. The signal handler only deduplicates (by event id) and queues
them; the interpreter applies them one at a time, in arrival order, at its own safe points
(before each step and whenever a wait wakes). So a trigger and an exit sent back to back
are seen in that order: the journey enters, then exits — never the other way round. Step
handlers live in ``workflows.steps``. The scenario travels in the input, so a journey
finishes on the definition it started with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c
    from journeys.model import journey_keys
    from journeys.model.events import Event, encoded_size
    from journeys.model.journey_state import (
        CARRIED_INPUT_BYTES,
        INBOX_LIMIT,
        QUEUED_TRIGGERS_BYTES,
        QUEUED_TRIGGERS_LIMIT,
        SEEN_IDS_LIMIT,
        TIMELINE_LIMIT,
        EventSeen,
        JourneyInput,
        JourneyProgress,
        JourneyState,
        TimelineEntry,
    )
    from journeys.model.limits import MAX_WAIT
    from journeys.model.ops import compile_steps
    from journeys.model.scenario import WaitForStep

from workflows.facts import BATCHED_FACTS_PATCH, FACTS_PATCH, Facts
from workflows.local_calls import STEP_ERRORS_PATCH, StepFailed, call_local
from workflows.steps import HANDLERS, condition

# Patch: entries that begin in this run write structured step keys (journeys.model.journey_keys).
KEYS_PATCH = "structured-keys"


class Interrupted(Exception):
    """Events are queued (or history is long): the loop must look before going on."""


@workflow.defn(name="JourneyWorkflow")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self.input = input
        self.scenario = input.scenario
        self.customer_id = input.customer_id
        self.ops = compile_steps(self.scenario.steps)
        self.progress = input.progress or JourneyProgress()
        self._seen = set(self.progress.seen_ids)
        self._awaitable = {s.event for s in self.scenario.walk() if isinstance(s, WaitForStep)}
        self._waiting_for: str | None = None
        self.facts = Facts(self)  # its patches set by run()
        self.step_errors = False  # set by run(): is a failed step recorded (local_calls)?
        self._key_format = journey_keys.LEGACY  # set by run(): for entries beginning now

    @workflow.signal(name="event")
    def on_event(self, event: Event) -> None:
        p = self.progress
        if event.id in self._seen:
            return
        self._seen.add(event.id)
        p.seen_ids = [*p.seen_ids, event.id][-SEEN_IDS_LIMIT:]
        p.queue.append(event)

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        p = self.progress
        op = self.ops[p.pc] if p.status == "running" and p.pc < len(self.ops) else None
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
        # Asked once, first thing: the marker is then the run's first command, where replay
        # always finds it. Asked later (after a local activity), replay could ask before the
        # server had told it about the marker, get False, and fail as non-deterministic.
        # BATCHED_FACTS_PATCH came last and implies the others: a journey that has it asks
        # for no other: one marker (and one search attribute update) instead of three.
        if workflow.patched(BATCHED_FACTS_PATCH):
            self.facts.enabled = self.facts.batched = self.step_errors = True
            self._key_format = journey_keys.STRUCTURED
        else:
            self.facts.enabled = workflow.patched(FACTS_PATCH)
            self.step_errors = workflow.patched(STEP_ERRORS_PATCH)
            if workflow.patched(KEYS_PATCH):
                self._key_format = journey_keys.STRUCTURED
        p = self.progress
        while True:
            await self._drain()
            if p.status == "running":
                await self._run_entry()
            elif p.status == "holding":
                await self._hold()
            elif p.queued_triggers:  # reentry queue: the next trigger that came meanwhile
                p.queue = [p.queued_triggers[0], *p.queue]
                p.queued_triggers = p.queued_triggers[1:]
            elif p.status == "waiting-for-trigger":
                await self.flush_facts()
                await workflow.wait_condition(lambda: bool(p.queue))
            elif not p.queue:
                break
        await self.flush_facts()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _run_entry(self) -> None:
        p = self.progress
        while p.pc < len(self.ops):
            await self._drain()  # may restart (pc back to 0) or set the exit reason
            if p.exit_reason:
                break
            await self._maybe_continue_as_new()
            try:
                next_pc = await HANDLERS[self.ops[p.pc].kind](self, self.ops[p.pc])
            except Interrupted:
                continue  # look at the queue; the step resumes with its deadline kept
            except StepFailed as failed:  # recorded, and the entry ends: nothing more is sent
                step_id = self.ops[p.pc].step_id
                self.note(step_id, f"error: {failed}")
                p.exit_reason = f"error at step '{step_id}': {failed}"
                break
            p.deadline = None
            if next_pc is None:
                break
            p.pc = next_pc
        p.deadline = None
        p.inbox.clear()
        self.note("end", p.exit_reason or "completed")
        await self.fact("exited" if p.exit_reason else "completed", detail=p.exit_reason)
        p.status = "exited" if p.exit_reason else "completed"
        if self.scenario.entry.once_per and p.entered_at:
            period = self.scenario.entry.once_per
            if self.step_errors:  # an input past journeys.model.limits must not overflow the date
                period = min(period, MAX_WAIT)
            p.status, p.hold_until = "holding", p.entered_at + period
            self.note("hold", f"re-entry closed until {p.hold_until.isoformat()}")

    async def _hold(self) -> None:
        """once_per: stay alive for the period so that triggers inside it are seen and ignored."""
        p = self.progress
        assert p.hold_until is not None
        while workflow.now() < p.hold_until:
            try:
                await self.wait_until(p.hold_until)
            except Interrupted:
                await self._maybe_continue_as_new()
                if workflow.now() < p.hold_until:
                    await self._drain()
        p.status, p.hold_until = ("exited" if p.exit_reason else "completed"), None

    # ---- events ------------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Applies queued events in order; stops at an exit so the entry ends before the rest."""
        p = self.progress
        while p.queue and not (p.exit_reason and p.status == "running"):
            event = p.queue.pop(0)
            goal = self._goal(event)
            if goal == "goal reached":
                await self.fact("goal", detail=event.name)
            effects = [goal, await self._route(event)]
            if event.name in self._awaitable and p.status == "running" and not p.exit_reason:
                p.inbox = [*p.inbox, event][-INBOX_LIMIT:]
                effects.append("kept for wait_for")
            effect = ", ".join(e for e in effects if e) or "ignored"
            p.events = [
                *p.events,
                EventSeen(id=event.id, name=event.name, at=workflow.now(), effect=effect),
            ]
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

    async def _route(self, event: Event) -> str:
        p = self.progress
        if event.name in self.scenario.exit_on and p.status == "running":
            p.exit_reason = f"exit on {event.name}"
            if p.queued_triggers:  # they came before the exit: it ends them too
                dropped, p.queued_triggers = len(p.queued_triggers), []
                return f"exit (and {dropped} queued entries dropped)"
            return "exit"
        if event.name != self.scenario.trigger.event:
            return ""
        policy = self.scenario.entry.reentry
        if p.status == "running" and policy == "queue":
            return self._enqueue(event)
        if p.status == "holding" or (p.status == "running" and policy != "restart"):
            return f"ignored: re-entry policy '{policy}'"
        restarting = p.status == "running"
        if not await self._may_enter(event):
            if p.status == "waiting-for-trigger":
                p.status = "not-entered"
            return "did not enter"
        if restarting:
            await self.fact("exited", detail=f"restarted by {event.name}")
        p.status, p.entry_id, p.pc, p.deadline = "running", event.id, 0, None
        p.key_format = self._key_format
        p.trigger = p.last_event = event
        p.entries += 1
        p.entered_at = workflow.now()
        p.exit_reason, p.goal_reached_at, p.inbox = "", None, []
        p.coupon = None  # a coupon belongs to the entry that issued it
        await self.fact("entered")
        return "restarted" if restarting else "entered"

    def _enqueue(self, trigger: Event) -> str:
        """reentry queue: keeps the trigger for an entry of its own after the current one,
        within bounds that keep the carried input under Temporal's payload limit."""
        p = self.progress
        queued = [*p.queued_triggers, trigger]
        if len(queued) > QUEUED_TRIGGERS_LIMIT:
            return f"not queued: {QUEUED_TRIGGERS_LIMIT} entries already waiting"
        if sum(encoded_size(e) for e in queued) > QUEUED_TRIGGERS_BYTES:
            return f"not queued: the waiting entries' events are over {QUEUED_TRIGGERS_BYTES} bytes"
        p.queued_triggers = queued
        return "queued: enters when the current entry ends"

    async def _may_enter(self, trigger: Event) -> bool:
        """The entry filter, then — for ``once`` — the durable record of past entries."""
        entry = self.scenario.entry
        if entry.condition is not None:
            context = self.context().model_copy(update={"event": trigger, "last_event": trigger})
            try:
                if not await condition(self, "", entry.condition, context):
                    return False
            except StepFailed as failed:  # a filter that fails on this trigger: no entry
                self.note("entry", f"error in entry.if, not entered: {failed}")
                return False
        if entry.reentry != "once":
            return True
        request = c.EntryRequest(
            workflow_id=workflow.info().workflow_id,
            scenario_id=self.scenario.id,
            customer_id=self.customer_id,
            entry_id=self._key(trigger.id, self._key_format),
            policy=entry.reentry,
            now=workflow.now(),
        )
        try:
            return await call_local(self, "entry", c.RECORD_ENTRY, request, bool)
        except StepFailed as failed:  # not expected (no business error there): never stuck
            self.note("entry", f"error recording the entry, not entered: {failed}")
            return False

    # ---- helpers for step handlers --------------------------------------------------------

    def _key(self, entry_id: str, key_format: int, step_id: str = "") -> str:
        return journey_keys.key_for(
            key_format,
            workflow.info().workflow_id,
            self.scenario.id,
            self.customer_id,
            entry_id,
            step_id,
        )

    def step_key(self, step_id: str) -> str:
        """The current entry's key for one step: ledger key, update key, points reference."""
        return self._key(self.progress.entry_id, self.progress.key_format, step_id)

    async def fact(self, kind: str, step_id: str = "", detail: str = "") -> None:
        """Records a fact for the funnels (``journey_facts``), at once or held back for the
        next write (``workflows.facts``)."""
        await self.facts.record(self._fact(kind, step_id, detail))

    async def flush_facts(self) -> None:
        await self.facts.flush()

    def facts_for_send(self) -> tuple[list[c.FactRequest], c.FactRequest | None]:
        """What the current send carries: held facts, and the entry's end when it is the
        last step (``_run_entry`` goes from the last step to the end without a look)."""
        last = self.progress.pc == len(self.ops) - 1
        return self.facts.carry(self._fact("completed") if last else None)

    def facts_sent(self, recorded: bool) -> None:
        self.facts.carried(recorded)

    def _fact(self, kind: str, step_id: str = "", detail: str = "") -> c.FactRequest:
        return c.FactRequest(
            workflow_id=workflow.info().workflow_id,
            entry_id=self.progress.entry_id or "",
            scenario_id=self.scenario.id,
            customer_id=self.customer_id,
            kind=kind,  # type: ignore[arg-type]
            step_id=step_id,
            detail=detail,
            at=workflow.now(),
        )

    def context(self) -> c.JourneyContext:
        p = self.progress
        return c.JourneyContext(
            customer_id=self.customer_id,
            event=p.trigger,
            last_event=p.last_event,
            now=workflow.now(),
            vars=self.scenario.vars,
            coupon=p.coupon,
        )

    def deadline(self, compute: Callable[[datetime], datetime]) -> datetime:
        """The current wait's end, computed once: a resumed step keeps its original deadline."""
        p = self.progress
        if p.deadline is None:
            p.deadline = compute(workflow.now())
        return p.deadline

    async def wait_until(self, deadline: datetime) -> None:
        """A timed wait; raises Interrupted when events are queued, to be looked at first."""
        await self._sleep(deadline, self._must_look)
        if self._must_look():
            raise Interrupted
        self.progress.inbox.clear()  # a later wait_for counts what happens after this wait

    async def wait_for_event(self, name: str, deadline: datetime) -> Event | None:
        """Takes the first kept event of that name, or returns None at the deadline."""
        self._waiting_for = name
        try:
            if not self._kept(name):
                await self._sleep(deadline, self._must_look)
            found = self._kept(name)
            if found is None and self._must_look():
                raise Interrupted
        finally:
            self._waiting_for = None
        if found is not None:
            self.progress.inbox.remove(found)
        return found

    def _kept(self, name: str) -> Event | None:
        return next((e for e in self.progress.inbox if e.name == name), None)

    async def _sleep(self, deadline: datetime, wake: Callable[[], bool]) -> None:
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            await self.flush_facts()  # a funnel read during the wait counts them
            with contextlib.suppress(TimeoutError):  # the deadline passing is the normal case
                await workflow.wait_condition(wake, timeout=remaining)

    def note(self, step_id: str, text: str) -> None:
        p = self.progress
        p.timeline = [*p.timeline, TimelineEntry(at=workflow.now(), step_id=step_id, note=text)]
        p.timeline = p.timeline[-TIMELINE_LIMIT:]

    def exit_queued(self) -> bool:
        return any(e.name in self.scenario.exit_on for e in self.progress.queue)

    def _must_look(self) -> bool:
        return bool(self.progress.queue) or self._history_too_long()

    def _history_too_long(self) -> bool:
        info = workflow.info()
        limit = self.input.history_limit
        too_long = limit is not None and info.get_current_history_length() > limit
        return too_long or info.is_continue_as_new_suggested()

    async def _maybe_continue_as_new(self) -> None:
        if self._history_too_long():
            await self.flush_facts()
            await workflow.wait_condition(workflow.all_handlers_finished)
            carried = JourneyInput(
                scenario=self.scenario,
                customer_id=self.customer_id,
                progress=self.progress,
                history_limit=self.input.history_limit,
            )
            self._fit(carried)
            workflow.continue_as_new(carried)

    def _fit(self, carried: JourneyInput) -> None:
        """Drops the oldest events kept for a wait_for until the input is within
        ``CARRIED_INPUT_BYTES``: a hundred large events kept during a long wait (which
        clears them at its end anyway) must not make an input Temporal refuses. Only the
        carried input changes, never this run's commands, so histories replay unchanged."""
        p = carried.progress  # self.progress itself (pydantic keeps the instance)
        assert p is not None
        excess = len(carried.model_dump_json()) - CARRIED_INPUT_BYTES
        dropped = 0
        while excess > 0 and p.inbox:
            excess -= len(p.inbox.pop(0).model_dump_json()) + 1
            dropped += 1
        if dropped:
            note = f"{dropped} kept event(s) dropped to stay under the size limit"
            self.note("continue-as-new", note)
