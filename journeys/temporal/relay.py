"""Routing what the event log holds but has not routed yet.

Everything accepted is stored first and routed after: events from the API, and the events
the system derives (``tier.upgraded``, ``segment.entered``), which are written in the same
transaction as the change that caused them. ``route_pending`` routes what is unrouted and
marks it routed; a crash or an outage in between leaves it unrouted, and the next pass
routes it again. Nothing accepted is lost, and journeys deduplicate by event id, so a
second routing of the same event changes nothing.

One customer's events are routed one after the other, in the order they were received
(a trigger before the exit that follows it); different customers' go in parallel. An event
Temporal will never take (over its payload size limit, say) is set aside as failed with
the reason (``journeys events failed``) instead of blocking its customer's later events
forever; ``journeys events retry`` puts it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import groupby

from journeys.model.events import Event
from journeys.process.clock import utcnow
from journeys.process.metrics import ROUTING_LAG
from journeys.store import Store
from journeys.temporal.routing import Router, refusal

log = logging.getLogger(__name__)

CONCURRENT_CUSTOMERS = 64


async def route_pending(
    store: Store, router: Router, *, customer_id: str | None = None, limit: int = 500
) -> int:
    """Claims up to ``limit`` unrouted events, routes them, marks the routed ones routed
    (also when another customer's routing failed); returns how many were claimed.

    An event Temporal refuses for good (``journeys.temporal.routing.refusal``: too large for it)
    is set aside as failed with the reason, and the customer's next events go on, in
    order. Any other failure (an outage, but also a refusal not about this event, such as
    search attributes not registered) stops that customer's batch where it is (order
    holds), lets the other customers finish, gives the unrouted events back for the next
    pass, and is raised for the relay to back off and log.
    """
    token = uuid.uuid4().hex  # this pass's claim: what it gives back is only what it holds
    claimed = await asyncio.to_thread(store.events.claim, customer_id, limit, token=token)
    if not claimed:
        return 0
    received = {event.id: at for event, at in claimed}
    events = [event for event, _ in claimed]
    gate = asyncio.Semaphore(CONCURRENT_CUSTOMERS)
    routed: list[str] = []
    failed: dict[str, str] = {}

    async def in_order(batch: list[Event]) -> None:
        async with gate:
            for event in batch:
                try:
                    await router.route(event)
                except Exception as err:
                    reason = refusal(err)
                    if reason is None:
                        raise
                    log.error(
                        "event %s (%s) for %s set aside, not retried: %s",
                        event.id,
                        event.name,
                        event.customer_id,
                        reason,
                    )
                    failed[event.id] = reason
                    continue
                routed.append(event.id)
                ROUTING_LAG.observe((utcnow() - received[event.id]).total_seconds())

    by_customer = [list(g) for _, g in groupby(sorted(events, key=_customer), key=_customer)]
    try:
        outcomes = await asyncio.gather(
            *(in_order(batch) for batch in by_customer), return_exceptions=True
        )
    finally:  # one transaction for the batch; the claim keeps other routers off meanwhile
        if routed:
            await asyncio.to_thread(store.events.mark_routed, *routed)
        if failed:
            await asyncio.to_thread(store.events.mark_failed, failed)
    done = set(routed) | set(failed)
    undone = [e.id for e in events if e.id not in done]
    await asyncio.to_thread(store.events.release, token, *undone)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return len(events)


def _customer(event: Event) -> str:
    return event.customer_id  # sorted() is stable: each customer's events keep their order


class Relay:
    """Routes pending events in the background: at once when ``kick``ed (an event was just
    accepted), and every ``interval`` seconds anyway. When routing fails (Temporal or the
    worker unreachable) it retries with a growing pause, up to ``max_pause``, and logs it."""

    def __init__(
        self,
        store: Store,
        router: Callable[[], Awaitable[Router]],
        *,
        interval: float = 1.0,
        max_pause: float = 30.0,
    ) -> None:
        self.store = store
        self.router = router
        self.interval = interval
        self.max_pause = max_pause
        self._wake = asyncio.Event()
        self.failures = 0

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        pause = self.interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            self._wake.clear()
            try:
                router = await self.router()
                while await route_pending(self.store, router) > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as err:  # Temporal down, worker gone, network: retry later
                self.failures += 1
                pause = min(self.max_pause, max(self.interval, pause * 2))
                log.warning("routing pending events failed (%s); retrying in %.0fs", err, pause)
                continue
            if self.failures:
                log.info("routing pending events works again")
            self.failures, pause = 0, self.interval


@contextlib.asynccontextmanager
async def relaying(relay: Relay) -> AsyncIterator[Relay]:
    """Runs the relay for as long as the block runs."""
    task = asyncio.create_task(relay.run(), name="journeys-relay")
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
