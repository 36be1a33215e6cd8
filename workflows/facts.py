"""The funnel facts of one journey, as few writes as the funnels allow.

A fact is one row (``journey_facts``) and, written on its own, one local activity: a
marker in the history and a round trip through the worker. Most facts come in twos with no
I/O between them (entered then waiting at the first wait, a goal then the exit it causes),
so journeys of ``BATCHED_FACTS_PATCH`` hold facts back and write them together just before
the journey's next I/O or wait, whichever comes first (``flush``): a fact is in the store
before anything the journey does after it, and before the journey sleeps, so a funnel read
during a wait counts it. A send carries the held facts in its deliver request, and when the
send is the entry's last step, the entry's end too: nothing can set an exit reason after
the last step, so that end is known before the send (``carry``; at the send's start).
The deliver activity writes the held facts before it sends and the end with its result.

Journeys whose history predates the patch write each fact in its own local activity, as
they did; journeys from before ``FACTS_PATCH`` write none.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c

from workflows.local_calls import Caller, StepFailed, call_local

# Patch: journeys record facts for the funnels (entered, waiting at a step, goal, end).
FACTS_PATCH = "journey-facts"
# Patch: facts with no I/O between them are written together; sends carry them.
BATCHED_FACTS_PATCH = "batched-facts"


class FactsOwner(Caller, Protocol):
    def note(self, step_id: str, text: str) -> None: ...


class Facts:
    def __init__(self, journey: FactsOwner) -> None:
        self._journey = journey
        self.enabled = False  # FACTS_PATCH, asked by run()
        self.batched = False  # BATCHED_FACTS_PATCH, asked by run()
        self._held: list[c.FactRequest] = []
        self._carried_end: c.FactRequest | None = None  # the end a send in flight carries
        self._ended: c.FactRequest | None = None  # the end a last send wrote

    async def record(self, fact: c.FactRequest) -> None:
        if not self.enabled:
            return
        if not self.batched:
            await self._write(c.RECORD_FACT, fact, [fact])
        elif self._ended and _same(self._ended, fact):
            self._ended = None
        else:
            self._held.append(fact)

    async def flush(self) -> None:
        """Writes the held facts: called before every I/O and wait of the journey."""
        if self._held:
            facts, self._held = self._held, []
            await self._write(c.RECORD_FACTS, c.FactsRequest(facts=facts), facts)

    def carry(
        self, end: c.FactRequest | None
    ) -> tuple[list[c.FactRequest], c.FactRequest | None]:
        """What a send takes along: the held facts and, for a last step, the ``end``."""
        if not self.batched:
            return [], None
        self._carried_end = end
        return list(self._held), end

    def carried(self, recorded: bool) -> None:
        """The send's answer. A failed or deferred send wrote nothing: the journey writes
        the held facts itself (nothing is held meanwhile: events wait in the queue)."""
        if recorded:
            self._held, self._ended = [], self._carried_end
        self._carried_end = None

    async def _write(self, activity: str, arg: object, facts: list[c.FactRequest]) -> None:
        kinds = ", ".join(f"'{fact.kind}'" for fact in facts)
        try:
            await call_local(self._journey, f"the {kinds} fact", activity, arg, flush=False)
        except StepFailed as failed:  # not expected: the fact is missing, the journey goes on
            note = f"the {kinds} fact was not recorded: {failed}"
            self._journey.note(facts[0].step_id or "fact", note)


def _same(a: c.FactRequest, b: c.FactRequest) -> bool:
    """One fact (``journey_facts`` keeps one row per workflow, entry, kind and step)."""
    return (a.workflow_id, a.entry_id, a.kind, a.step_id) == (
        b.workflow_id,
        b.entry_id,
        b.kind,
        b.step_id,
    )
