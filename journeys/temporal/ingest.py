"""Taking in a customer event: store it, then route it, then mark it routed.

Stored first, so an event accepted is never lost: if routing fails (Temporal down), the
event stays unrouted in the log and ``journeys.temporal.relay`` routes it later. The log also
moves the customer's ``last_seen_at`` (audiences of inactive customers).

An event too large for its journeys (``max_bytes``, ``JOURNEYS_MAX_EVENT_BYTES``) is
refused before it is stored; one Temporal refuses anyway is set aside as failed with the
reason (``journeys events failed``), never retried forever.
"""

from __future__ import annotations

import asyncio

from journeys.model.events import Event, event_too_large
from journeys.store import Store
from journeys.temporal.routing import EventRefused, Router, RouteResult, refusal


async def ingest(
    store: Store, router: Router, event: Event, *, max_bytes: int | None = None
) -> RouteResult:
    """Routes even an event already stored: a client retrying after a lost answer must
    not be left with an event that was stored but never routed; journeys and purchases
    deduplicate by event id."""
    if max_bytes is not None and (problem := event_too_large(event, max_bytes)):
        raise EventRefused(f"event {event.id}: {problem}; nothing was stored")
    await asyncio.to_thread(store.events.record, event)
    try:
        result = await router.route(event)
    except Exception as err:
        reason = refusal(err)
        if reason is None:
            raise
        await asyncio.to_thread(store.events.mark_failed, {event.id: reason})
        raise EventRefused(
            f"event {event.id} was stored but {reason}; it is set aside "
            "('journeys events failed')"
        ) from None
    await asyncio.to_thread(store.events.mark_routed, event.id)
    return result
