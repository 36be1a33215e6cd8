"""The ``issue_coupon`` activity: a journey's coupon step, against the coupon store.

A local activity, at least once like the others: the coupon's source reference is the
journey step key, so a second run returns the coupon the first one issued. Two outcomes are
the journey's business, not an outage, and are answered at once instead of retried: the
customer's per-offer limit (a result, ``coupon: None``: the step takes its limit-reached
path) and an empty pool (a non-retryable error: the step fails, with the reason in the
timeline and the funnel, and nothing after it is sent).
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from journeys.loyalty.program import LoyaltyProgram
from journeys.model.coupon_contracts import ISSUE_COUPON, CouponRequest, CouponResult
from journeys.store import Store
from journeys.store.coupons import Issue, PoolEmpty, Worth, cents


class CouponActivities:
    def __init__(self, store: Store, program: LoyaltyProgram | None = None) -> None:
        self.store = store
        self.program = program or LoyaltyProgram()

    @activity.defn(name=ISSUE_COUPON)
    async def issue_coupon(self, request: CouponRequest) -> CouponResult:
        if request.percent is not None:
            worth = Worth(kind="percent", percent=request.percent)
        elif request.value is not None:
            currency = request.currency or self.program.currency
            worth = Worth(kind="value", value_cents=cents(request.value), currency=currency)
        else:  # the step model refuses this; a journey input built by hand may not
            raise ApplicationError(
                "coupon: neither percent nor value", type="InvalidCoupon", non_retryable=True
            )
        issue = Issue(
            source_ref=f"journey/{request.key}",
            customer_id=request.customer_id,
            offer=request.offer,
            worth=worth,
            valid_for=request.valid_for,
            at=request.now,
            per_customer=request.per_customer,
            pool=request.pool,
        )
        try:
            coupon, reason = await asyncio.to_thread(self.store.coupons.issue, issue)
        except PoolEmpty as err:
            raise ApplicationError(str(err), type="PoolEmpty", non_retryable=True) from err
        return CouponResult(coupon=coupon, reason=reason)
