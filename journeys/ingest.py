"""Taking in a customer event: store it, then route it, then mark it routed.

Stored first, so an event accepted is never lost: if routing fails (Temporal down), the
event stays unrouted in the log and ``journeys.relay`` routes it later. The log also
moves the customer's ``last_seen_at`` (audiences of inactive customers).
"""

from __future__ import annotations

import asyncio

from journeys.events import Event
from journeys.routing import Router, RouteResult
from journeys.store import Store


async def ingest(store: Store, router: Router, event: Event) -> RouteResult:
    """Routes even an event already stored: a client retrying after a lost answer must
    not be left with an event that was stored but never routed; journeys and purchases
    deduplicate by event id."""
    await asyncio.to_thread(store.record_event, event)
    result = await router.route(event)
    await asyncio.to_thread(store.mark_routed, event.id)
    return result
