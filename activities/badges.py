"""The badge activity: an update step's ``badge``, awarded once per customer.

A local activity like the other update parts (at least once): the store's unique keys
make the award idempotent, by the step's key and by (customer, badge).
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from journeys.model.counter_contracts import AWARD_BADGE, BadgeRequest
from journeys.store import Store


class BadgeActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name=AWARD_BADGE)
    async def award_badge(self, request: BadgeRequest) -> str:
        """What the journey's timeline says: awarded, or already held since when."""
        row, awarded = await asyncio.to_thread(
            self.store.badges.award,
            request.context.customer_id,
            request.badge,
            source_ref=f"journey/{request.key}",
            at=request.context.now,
        )
        if awarded:
            return f"awarded badge {request.badge}"
        return f"badge {request.badge} already held since {row.awarded_at:%Y-%m-%d}"
