"""The loyalty program's activities: a purchase (record it, earn points, re-evaluate the
tier, complete the buyer's referral on their first purchase) and the daily run (settle
points, review tiers, score RFM).

Every write is idempotent by a reference (the purchase event id, the RFM run id), so a
retried activity changes nothing twice. Tier and segment changes are written to the event
log, unrouted, in the transaction that made them, and routed by ``journeys.temporal.relay``: a
crash between the two delays a ``tier.upgraded`` journey, it never loses it.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from numbers import Real
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from journeys.loyalty.program import LoyaltyProgram
from journeys.model import scan_contracts as sc
from journeys.model.limits import MAX_POINTS
from journeys.process.clock import utcnow
from journeys.store import Store
from journeys.temporal.relay import route_pending
from journeys.temporal.routing import Router


def _invalid(event_id: str, detail: str) -> ApplicationError:
    """A purchase that cannot be applied however often it is retried: nothing is recorded."""
    return ApplicationError(
        f"purchase event {event_id}: {detail}", type="InvalidPurchase", non_retryable=True
    )


class LoyaltyActivities:
    def __init__(self, store: Store, program: LoyaltyProgram, router: Router) -> None:
        self.store = store
        self.program = program
        self.router = router

    @activity.defn(name=sc.APPLY_PURCHASE)
    async def apply_purchase(self, input: sc.PurchaseInput) -> dict[str, Any]:
        event = input.event
        amount = event.properties.get(self.program.amount_property)
        if not isinstance(amount, Real) or isinstance(amount, bool) or not 0 <= amount < math.inf:
            raise _invalid(event.id, f"'{self.program.amount_property}' must be an amount of "
                           f"money (a number, 0 or more), not {amount!r}")
        if self._points_for(amount) > MAX_POINTS:
            # The wallet's columns are 32-bit on PostgreSQL: such a purchase is a typo (cents
            # sent as units, a test order), and its points could never be stored.
            raise _invalid(event.id, f"{amount!r} would earn more than {MAX_POINTS:,} points")
        result = await asyncio.to_thread(
            self._apply,
            event.id,
            event.customer_id,
            float(amount),
            event.occurred_at,
            str(event.properties.get("currency", "")),
        )
        await self._route(event.customer_id)
        if referrer := result.get("referrer_rewarded"):  # their referral.completed, at once
            await self._route(str(referrer))
        return result

    def _points_for(self, amount: Real) -> float:
        try:
            return self.program.points_for(float(amount))
        except OverflowError:  # an integer too large for a float (JSON allows any)
            return math.inf

    def _apply(
        self, ref: str, customer_id: str, amount: float, occurred: datetime | None, currency: str
    ) -> dict[str, Any]:
        now = utcnow()
        at = min(occurred or now, now)  # a client clock ahead must not put it in the future
        purchase, new = self.store.loyalty.record_purchase(
            customer_id, amount, source_ref=ref, occurred_at=at, currency=currency
        )
        points = self.program.points_for(purchase.amount)
        if points > 0:
            self.store.points.earn(
                customer_id,
                points,
                source_ref=f"purchase/{ref}",
                reason="purchase",
                at=at,
                rules=self.program.points,
            )
        change = self.store.loyalty.evaluate_tier(customer_id, now, self.program.tiers)
        result: dict[str, Any] = {
            "new_purchase": new,
            "points": points,
            "tier_change": f"{change.previous} -> {change.new}" if change else None,
        }
        referral = self.store.referrals.referral_of(customer_id) if new else None
        if referral is not None and referral.purchase_ref == ref:
            result["referrer_rewarded"] = referral.referrer_id
        return result

    @activity.defn(name=sc.SETTLE_POINTS)
    async def settle_points(self, at: datetime) -> list[int]:
        activated, expired = await asyncio.to_thread(self.store.points.settle, at)
        return [activated, expired]

    @activity.defn(name=sc.REVIEW_TIERS_PAGE)
    async def review_tiers_page(self, at: datetime, cursor: str) -> tuple[int, str]:
        changes, last = await asyncio.to_thread(
            self.store.loyalty.review_tiers, at, self.program.tiers, after=cursor
        )
        for change in changes:
            await self._route(change.customer_id)
        return len(changes), last

    @activity.defn(name=sc.SCORE_RFM)
    async def score_rfm(self, at: datetime, run_id: str) -> int:
        return await asyncio.to_thread(self.store.loyalty.score_rfm, at, self.program.rfm, run_id)

    @activity.defn(name=sc.APPLY_RFM_PAGE)
    async def apply_rfm_page(self, run_id: str, cursor: str) -> tuple[int, str]:
        apply = self.store.loyalty.apply_rfm_run
        changes, last = await asyncio.to_thread(apply, run_id, after=cursor)
        for change in changes:
            await self._route(change.customer_id)
        return len(changes), last

    async def _route(self, customer_id: str) -> None:
        """Routes the events this change wrote, at once; if routing fails, the relay
        (API process or worker) routes them later, and the loyalty work stays done."""
        try:
            await route_pending(self.store, self.router, customer_id=customer_id)
        except Exception as err:  # Temporal unreachable, a signal refused: the relay retries
            activity.logger.warning("events of %s left to the relay: %s", customer_id, err)
