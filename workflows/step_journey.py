"""StepJourney: what a step handler may read from and do to the journey running it.

Handlers in ``workflows.steps`` depend on this, not on ``JourneyWorkflow``: the interpreter's
queue, patches and continue-as-new stay out of their reach, and a handler needing something
new shows up here first, as a change to this list. ``JourneyWorkflow`` provides every member
(``tests/workflows/test_step_journey.py`` checks both directions).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c
    from journeys.model.events import Event
    from journeys.model.journey_state import JourneyProgress
    from journeys.model.scenario import Scenario

from workflows.local_calls import Caller


class StepJourney(Caller, Protocol):
    """One customer's journey as its current step sees it (``step_errors`` from Caller)."""

    progress: JourneyProgress  # carried across continue-as-new: pc, deadline, messages...
    scenario: Scenario
    customer_id: str

    def step_key(self, step_id: str) -> str:
        """The current entry's key for one step (ledger, update and points references)."""
        ...

    def context(self) -> c.JourneyContext:
        """What expressions and templates see: the customer, trigger, last event, vars."""
        ...

    def note(self, step_id: str, text: str) -> None:
        """A line on the journey's timeline."""
        ...

    async def fact(self, kind: str, step_id: str = "", detail: str = "") -> None:
        """A fact for the funnels."""
        ...

    def facts_for_send(self) -> tuple[list[c.FactRequest], c.FactRequest | None]:
        """The funnel facts and the end a send carries to the deliver activity."""
        ...

    def facts_sent(self, recorded: bool) -> None:
        """The deliver activity's answer: did it write the facts the send carried?"""
        ...

    def deadline(self, compute: Callable[[datetime], datetime]) -> datetime:
        """The current wait's end, computed once per step (kept when the step resumes)."""
        ...

    async def wait_until(self, deadline: datetime) -> None:
        """A timed wait that queued events interrupt."""
        ...

    async def wait_for_event(self, name: str, deadline: datetime) -> Event | None:
        """The first kept event of that name, or None at the deadline."""
        ...

    def exit_queued(self) -> bool:
        """An exit event waits in the queue (a delivery in flight stops for it)."""
        ...
