"""Drives journeys with a movable clock: events through the router, time by fast-forward.

Used by the demo, ``journeys simulate`` and the tests, against a server started with
per-workflow time skipping. ``clock`` is a ``WorkflowEnvironment`` from
``start_time_skipping_v2`` or a ``TimeSkipper``: both move one journey's clock at a time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from journeys.model.durations import parse_duration
from journeys.model.events import Event
from journeys.model.journey_state import JourneyState, journey_id
from journeys.model.profile import PROFILE_FIELDS
from journeys.model.scan_contracts import ScanInput, ScanProgress
from journeys.store import Store
from journeys.temporal.ingest import ingest
from journeys.temporal.routing import Router, RouteResult

T = TypeVar("T")


class NotYet(AssertionError):
    """Raised by a check that may pass a moment later; ``eventually`` retries it."""


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Retries an async assertion until it passes: activities finish in real time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


class Clock(Protocol):
    async def fast_forward(
        self, handle: WorkflowHandle[Any, Any], duration: timedelta | None, /
    ) -> bool: ...
    async def get_current_time(self, handle: WorkflowHandle[Any, Any]) -> datetime: ...


class JourneyDriver:
    def __init__(self, clock: Clock, router: Router, store: Store) -> None:
        self.clock = clock
        self.router = router
        self.store = store

    def customer(self, prefix: str = "c", **profile: Any) -> str:
        """A fresh customer id (tests share one server and store) saved with ``profile``."""
        customer_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
        profile.setdefault("email", f"{customer_id}@example.com")
        profile.setdefault("consent", {"email": True})
        attributes = {k: profile.pop(k) for k in list(profile) if k not in PROFILE_FIELDS}
        self.store.customers.upsert(customer_id, attributes=attributes, **profile)
        return customer_id

    async def send(
        self, customer_id: str, name: str, event_id: str | None = None, **props: Any
    ) -> RouteResult:
        event = Event(
            id=event_id or uuid.uuid4().hex, name=name, customer_id=customer_id, properties=props
        )
        return await ingest(self.store, self.router, event)

    def handle(self, scenario_id: str, customer_id: str) -> WorkflowHandle[Any, Any]:
        return self.router.client.get_workflow_handle(
            journey_id(scenario_id, customer_id), result_type=JourneyState
        )

    async def advance(self, scenario_id: str, customer_id: str, duration: str | timedelta) -> None:
        """Moves this journey's virtual clock forward (other journeys are untouched)."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        await self.clock.fast_forward(self.handle(scenario_id, customer_id), duration)

    async def finish(self, scenario_id: str, customer_id: str) -> JourneyState:
        """Skips time until the journey ends (across continue-as-new) and returns its state."""
        handle = self.handle(scenario_id, customer_id)
        while await self.running(scenario_id, customer_id):
            try:
                await self.clock.fast_forward(handle, None)
            except RPCError:  # it ended between the two calls
                break
        return await handle.result()

    async def running(self, scenario_id: str, customer_id: str) -> bool:
        description = await self.handle(scenario_id, customer_id).describe()
        return description.status == WorkflowExecutionStatus.RUNNING

    async def state(self, scenario_id: str, customer_id: str) -> JourneyState:
        return await self.handle(scenario_id, customer_id).query("state", result_type=JourneyState)

    async def idle(self, scenario_id: str, customer_id: str) -> JourneyState:
        """Waits until the journey has started and is parked on a future timer or has ended
        (nothing in flight)."""
        handle = self.handle(scenario_id, customer_id)

        async def parked() -> JourneyState:
            try:
                state = await self.state(scenario_id, customer_id)
            except RPCError as err:  # started indirectly (a tier change): not there yet
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                raise NotYet(f"{handle.id} has not started yet") from err
            if state.status in ("completed", "exited", "not-entered"):
                return state
            now = await self.clock.get_current_time(handle)
            if state.waiting_until is None or state.waiting_until <= now:
                raise NotYet(f"{handle.id} is still busy at step {state.current_step}")
            return state

        return await eventually(parked)

    async def scan(self, scenario_id: str, at: datetime) -> ScanProgress:
        """Runs a scheduled scenario's audience scan as of ``at`` (as its schedule would)."""
        return await self.router.client.execute_workflow(
            "AudienceScanWorkflow",
            ScanInput(scenario_id=scenario_id, at=at),
            id=f"scan/{scenario_id}/{uuid.uuid4().hex[:8]}",
            task_queue=self.router.task_queue,
            result_type=ScanProgress,
        )

    def sent(self, customer_id: str) -> list[tuple[str, str]]:
        """(step id, channel) of every outbox message for the customer, oldest first."""
        return [(m.step_id, m.channel) for m in self.store.outbox.for_customer(customer_id)]
