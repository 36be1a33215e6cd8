"""Routing what the event log holds but has not routed yet.

Events the system derives (``tier.upgraded``, ``segment.entered``) are written to the event
log in the same transaction as the change that caused them, unrouted; this relay then
routes them and marks them routed. A crash in between leaves them unrouted, and the next
pass routes them: nothing derived is lost, and journeys deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import logging

from journeys.routing import Router
from journeys.store import Store

log = logging.getLogger(__name__)


async def route_pending(
    store: Store, router: Router, *, customer_id: str | None = None, limit: int = 500
) -> int:
    """Routes up to ``limit`` unrouted events, oldest first; returns how many."""
    events = await asyncio.to_thread(store.pending_events, customer_id, limit)
    for event in events:
        await router.route(event)
        await asyncio.to_thread(store.mark_routed, event.id)
    if events:
        log.info("relay routed %d pending event(s)", len(events))
    return len(events)
