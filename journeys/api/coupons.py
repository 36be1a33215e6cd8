"""``/v1/coupons/{code}``: read a coupon, redeem it for an order, return it when the order is
cancelled; ``/v1/customers/{id}/coupons`` lists a customer's coupons.

Redeeming and returning are idempotent by ``order_id``: the same order again gets the same
answer and changes nothing, so a checkout may retry safely. A refusal says why (``404`` no
such code; ``409`` another customer's, redeemed by another order, expired, not redeemed by
this order) and changes nothing. A change emits ``coupon.redeemed`` / ``coupon.returned``
into the event log in the same transaction, and the relay routes it to journeys (a
``wait_for: coupon.redeemed`` step).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from journeys.api.auth import Authorized
from journeys.api.fields import CustomerIdPath, Id
from journeys.api.responses import BODY_ERRORS, NOT_FOUND, UNAUTHORIZED, Detail, Responses
from journeys.api.state import ApiState, api_state
from journeys.process.clock import utcnow
from journeys.store.coupons import CouponNotFound, CouponRefused

router = APIRouter(prefix="/v1", tags=["coupons"], responses={**UNAUTHORIZED})
State = Annotated[ApiState, Depends(api_state)]

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_AMOUNT = 1_000_000_000
CONFLICT: Responses = {
    409: {
        "model": Detail,
        "description": "Refused, with the reason: the coupon belongs to another customer, "
        "was redeemed by another order, has expired, or was not redeemed by this order "
        "(for a return); nothing changed",
    }
}
CodePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=CODE_PATTERN,
        description="The coupon's code (letters, digits, '-' and '_'; case does not matter)",
    ),
]


class CouponOut(BaseModel):
    code: str
    customer_id: str
    offer: str
    kind: str = Field(description="percent | value")
    percent: int | None
    value: str | None = Field(description='The amount off, as exact text (e.g. "5.00")')
    currency: str | None
    status: str = Field(description="issued | redeemed | expired")
    issued_at: datetime
    expires_at: datetime = Field(description="The first moment it is no longer valid")
    expires_on: date = Field(description="The last day it is valid, in the customer's zone")
    pool: str | None
    redeemed_at: datetime | None
    order_id: str | None = Field(description="The order that redeemed it, if redeemed")
    order_amount: str | None


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id = Field(description="The customer redeeming: it must be the coupon's own")
    order_id: Id = Field(
        description="Your order's id: redeeming again with the same order is the same "
        "redemption (the same answer, nothing changes). 1-200 characters."
    )
    amount: float | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="The order's amount, kept with it"
    )


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: Id = Field(description="The cancelled order that redeemed the coupon")


def _out(state: ApiState, coupon: Any) -> CouponOut:
    return CouponOut(**state.store.coupons.view(coupon, utcnow()))


def _refusal(err: Exception) -> HTTPException:
    status = 404 if isinstance(err, CouponNotFound) else 409
    return HTTPException(status_code=status, detail=str(err))


@router.get("/coupons/{code}", response_model=CouponOut, responses={**NOT_FOUND})
async def read(code: CodePath, state: State, _: Authorized) -> CouponOut:
    """The coupon: its worth, expiry, status and the order that redeemed it."""

    def load() -> CouponOut | None:
        coupon = state.store.coupons.get(code)
        return None if coupon is None else _out(state, coupon)

    found = await asyncio.to_thread(load)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no coupon has the code '{code.upper()}'")
    return found


@router.post(
    "/coupons/{code}/redeem",
    response_model=CouponOut,
    responses={**BODY_ERRORS, **NOT_FOUND, **CONFLICT},
)
async def redeem(code: CodePath, body: RedeemIn, state: State, _: Authorized) -> CouponOut:
    """Redeems the coupon for an order (idempotent by ``order_id``) and emits
    ``coupon.redeemed`` (code, offer, order_id, amount) to the customer's journeys."""
    amount = round(body.amount * 100) if body.amount is not None else None

    def apply() -> CouponOut:
        coupon = state.store.coupons.redeem(
            code,
            customer_id=body.customer_id,
            order_id=body.order_id,
            at=utcnow(),
            amount_cents=amount,
        )
        return _out(state, coupon)

    return await _change(state, apply)


@router.post(
    "/coupons/{code}/return",
    response_model=CouponOut,
    responses={**BODY_ERRORS, **NOT_FOUND, **CONFLICT},
)
async def return_coupon(code: CodePath, body: ReturnIn, state: State, _: Authorized) -> CouponOut:
    """The order was cancelled: the coupon is usable again until it expires (idempotent
    by ``order_id``), and ``coupon.returned`` is emitted."""

    def apply() -> CouponOut:
        coupon = state.store.coupons.return_(code, order_id=body.order_id, at=utcnow())
        return _out(state, coupon)

    return await _change(state, apply)


async def _change(state: ApiState, apply: Callable[[], CouponOut]) -> CouponOut:
    """Runs a redemption or a return off the event loop; a refusal becomes its 404/409, and
    the event it emitted is routed at once by the relay."""
    try:
        answer = await asyncio.to_thread(apply)
    except (CouponNotFound, CouponRefused) as err:
        raise _refusal(err) from None
    if state.relay is not None:
        state.relay.kick()
    return answer


@router.get(
    "/customers/{customer_id}/coupons", response_model=list[CouponOut], responses={**NOT_FOUND}
)
async def customer_coupons(
    customer_id: CustomerIdPath, state: State, _: Authorized
) -> list[CouponOut]:
    """The customer's coupons, newest first (at most 500)."""

    def load() -> list[CouponOut] | None:
        if state.store.customers.get(customer_id) is None:
            return None
        coupons = state.store.coupons.for_customer(customer_id)
        return [CouponOut(**view) for view in state.store.coupons.views(coupons, utcnow())]

    found = await asyncio.to_thread(load)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no customer '{customer_id}'")
    return found
