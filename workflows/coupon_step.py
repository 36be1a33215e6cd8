"""The ``coupon`` step: one coupon per journey entry and step, or the limit-reached path.

The coupon's source reference is the step key, the same key the delivery ledger uses, so a
retried activity, a worker crash or a replay returns the coupon already issued, never a
second one. The coupon is kept in the journey's progress: the steps after this one see it
as ``coupon`` (``coupon.code``) without reading the store again. Over the offer's
``per_customer`` limit no coupon is issued, the timeline says so, and the journey takes the
step's ``limit_reached`` path, which ends the entry (``journeys.model.ops``): the messages
after a coupon step are about that coupon.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model.coupon_contracts import ISSUE_COUPON, CouponRequest, CouponResult
    from journeys.model.ops import Op
    from journeys.model.scenario import CouponStep

from workflows.local_calls import call_local
from workflows.step_journey import StepJourney


async def run_coupon(journey: StepJourney, op: Op) -> int | None:
    step = op.step
    assert isinstance(step, CouponStep)
    request = CouponRequest(
        key=journey.step_key(step.id),
        customer_id=journey.customer_id,
        offer=step.offer_name(journey.scenario.id),
        percent=step.percent,
        value=step.value,
        currency=step.currency,
        valid_for=step.valid_for,
        per_customer=step.per_customer,
        pool=step.pool,
        now=workflow.now(),
    )
    result = await call_local(journey, f"step '{step.id}'", ISSUE_COUPON, request, CouponResult)
    coupon = result.coupon
    if coupon is None:
        journey.note(step.id, f"no coupon: {result.reason}")
        return op.targets[0]
    journey.progress.coupon = coupon
    if coupon.kind == "percent":
        worth = f"{coupon.percent}%"
    else:
        worth = f"{coupon.value} {coupon.currency}"
    journey.note(step.id, f"coupon {coupon.code} ({worth}, valid through {coupon.expires_on})")
    return journey.progress.pc + 1
