"""Routing a customer event to journeys: signal-with-start where it triggers, signal where heard.

Signal-with-start makes start and signal one atomic call, so two copies of the same trigger
can never start two journeys; a listener that is not running is normal and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.events import Event
from journeys.model.journey_state import JourneyInput, journey_id
from journeys.model.scan_contracts import PurchaseInput
from journeys.model.scenario import Scenario
from journeys.store import Store
from journeys.temporal.connect import CUSTOMER_ID, SCENARIO_ID

log = logging.getLogger(__name__)

WORKFLOW = "JourneyWorkflow"
PURCHASE_WORKFLOW = "PurchaseWorkflow"
SIGNAL = "event"


class EventRefused(RuntimeError):
    """Temporal refused this event for good: routing it again would fail the same way."""


# What Temporal answers when *this event* is too big for it, whatever the namespace's setup
# (texts of the server's frontend, seen on the dev server 1.x): routing it again would fail
# the same way. Matched on the status code and the text together.
_REFUSED_FOR_GOOD = {
    RPCStatusCode.INVALID_ARGUMENT: re.compile(
        r"Blob data size exceeds limit"  # a payload over limit.blobSize.error (2 MiB)
        r"|WorkflowId exceeds maximum allowed length"  # a customer id past limit.maxIDLength
        r"|search attribute \S+ value size \d+ exceeds size limit"  # same, as CustomerId
    ),
    # A request over the gRPC message limit (4 MiB); the same code without this text is
    # rate limiting, which passes.
    RPCStatusCode.RESOURCE_EXHAUSTED: re.compile(r"larger than max"),
}


def refusal(err: BaseException) -> str | None:
    """Why Temporal refuses this event for good, or None for a failure worth retrying.

    For good: only what is too large *in this event* (``_REFUSED_FOR_GOOD``). Anything
    else is retried, the event waiting in order: unavailable, timeouts, a worker away,
    and also every other ``INVALID_ARGUMENT`` (the ``CustomerId`` / ``ScenarioId`` search
    attributes not registered yet would refuse every event alike) and any error of our
    own code (a ``ValidationError`` is a bug to fix, not a bad event to set aside).
    """
    if not isinstance(err, RPCError):
        return None
    pattern = _REFUSED_FOR_GOOD.get(err.status)
    if pattern is None or not pattern.search(err.message):
        return None
    return f"Temporal refused it: {err.message}"


@dataclass
class RouteResult:
    started_or_signalled: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    not_running: list[str] = field(default_factory=list)
    loyalty: bool = False  # went to the loyalty program as a purchase
    counters: dict[str, int] = field(default_factory=dict)  # as of this event, when counted


class Router:
    def __init__(
        self,
        client: Client,
        registry: ScenarioRegistry,
        task_queue: str,
        *,
        loyalty: LoyaltyProgram | None = None,
        store: Store | None = None,
        history_limit: int | None = None,
    ) -> None:
        """``loyalty``: purchases also go to the loyalty program (points, tier), and with
        ``store`` an event that a ``loyalty.yaml`` counter counts is counted first.
        ``history_limit`` forces continue-as-new earlier than the server suggests (tests)."""
        self.client = client
        self.registry = registry
        self.task_queue = task_queue
        self.loyalty = loyalty
        self.store = store
        self.history_limit = history_limit

    async def route(self, event: Event) -> RouteResult:
        result = RouteResult()
        event = await self.count(event)
        result.counters = dict(event.counters)
        triggered = self.registry.triggered_by(event.name)
        listening = self.registry.listening_to(event.name)
        calls = [self._signal_with_start(s, event, result) for s in triggered]
        calls += [self._signal(s, event, result) for s in listening]
        if self.loyalty and event.name == self.loyalty.purchase_event:
            calls.append(self._purchase(event, result))
        await asyncio.gather(*calls)
        log.info(
            "event %s %s for %s: trigger %s, signal %s, not running %s",
            event.name,
            event.id,
            event.customer_id,
            result.started_or_signalled,
            result.signalled,
            result.not_running,
        )
        return result

    async def count(self, event: Event) -> Event:
        """The event with this customer's counters as of it, when a counter counts it.

        Counted here, before any journey hears of it, so that every event counts whatever
        journeys run, in the order the relay routes a customer's events, and a journey
        started by the 10th visit carries 10. Routing again after a failure counts nothing
        twice: the store keeps each event id once and returns its stored ordinal. Events
        no counter counts cost nothing here.
        """
        if self.loyalty is None or self.store is None:
            return event
        rules = self.loyalty.counters
        if not any(rule.event == event.name for rule in rules.values()):
            return event
        counts = await asyncio.to_thread(self.store.counters.count, event, rules)
        return event.model_copy(update={"counters": counts})

    async def _signal_with_start(
        self, scenario: Scenario, event: Event, result: RouteResult
    ) -> None:
        await self.trigger(scenario, event)
        result.started_or_signalled.append(scenario.id)

    async def trigger(self, scenario: Scenario, event: Event) -> None:
        """Starts the customer's journey with ``event``, or signals the running one."""
        await self.client.start_workflow(
            WORKFLOW,
            JourneyInput(
                scenario=scenario, customer_id=event.customer_id, history_limit=self.history_limit
            ),
            id=journey_id(scenario.id, event.customer_id),
            task_queue=self.task_queue,
            start_signal=SIGNAL,
            start_signal_args=[event],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(CUSTOMER_ID, event.customer_id),
                    SearchAttributePair(SCENARIO_ID, scenario.id),
                ]
            ),
        )

    async def _purchase(self, event: Event, result: RouteResult) -> None:
        """One PurchaseWorkflow per purchase event id: a purchase routed twice earns once."""
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                PURCHASE_WORKFLOW,
                PurchaseInput(event=event),
                id=f"purchase/{event.id}",
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        result.loyalty = True

    async def _signal(self, scenario: Scenario, event: Event, result: RouteResult) -> None:
        handle = self.client.get_workflow_handle(journey_id(scenario.id, event.customer_id))
        try:
            await handle.signal(SIGNAL, event)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            result.not_running.append(scenario.id)
            return
        result.signalled.append(scenario.id)
