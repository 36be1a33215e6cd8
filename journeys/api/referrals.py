"""Referrals: ``GET /v1/customers/{id}/referral`` (the customer's code, made on first ask,
and their referrals) and ``POST /v1/referrals`` (a friend signed up with a code).

Recording is idempotent: the identical repeat answers 200 with the referral already
stored. Every refusal names the field at fault and writes nothing (``journeys.store.
referrals``): 404 an unknown ``code``; 422 a self-referral (``customer_id``); 409 a
``customer_id`` already referred by someone else, already a buyer, or who referred the
code's owner, and a ``code`` whose owner has reached ``referrals.max_per_referrer``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from journeys.api.auth import Authorized
from journeys.api.fields import CustomerIdPath, Id
from journeys.api.responses import BODY_ERRORS, NOT_FOUND, UNAUTHORIZED, Detail
from journeys.api.state import ApiState, api_state
from journeys.store.referral_tables import Referral
from journeys.store.referrals import ReferralRefused

router = APIRouter(prefix="/v1", tags=["referrals"], responses={**UNAUTHORIZED})
State = Annotated[ApiState, Depends(api_state)]

# As a person may type it: letters and digits, any case, with spaces or dashes between.
CodeText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 -]*[A-Za-z0-9][A-Za-z0-9 -]*$"
    ),
]


class ReferralIn(BaseModel):
    """A friend who signed up with a referral code."""

    model_config = ConfigDict(extra="forbid")

    code: CodeText = Field(
        description="The referrer's code, any case; spaces and dashes are ignored",
        examples=["K7Q2M9XP"],
    )
    customer_id: Id = Field(description="The friend: the customer who signed up with the code")


class ReferralOut(BaseModel):
    referrer_id: str
    customer_id: str = Field(description="The friend")
    code: str
    status: str = Field(description="`pending` until the friend's first purchase: `completed`")
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, row: Referral) -> ReferralOut:
        return cls(
            referrer_id=row.referrer_id,
            customer_id=row.friend_id,
            code=row.code,
            status=row.status,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


class ReferralCodeOut(BaseModel):
    customer_id: str
    code: str = Field(description="The customer's code to give friends (`referral.code`)")
    referred: int = Field(description="Friends who signed up with it")
    completed: int = Field(description="... of whom made their first purchase")
    max_per_referrer: int = Field(description="The most friends one code may bring")
    referred_by: str | None = Field(description="Who referred this customer, if anyone")


_REFUSED = {
    404: {"model": Detail, "description": "No such code (`code`) or customer"},
    409: {
        "model": Detail,
        "description": "`customer_id` already referred by someone else, already a buyer, or "
        "the code owner's own referrer; or the `code` owner's cap is reached; nothing written",
    },
}
_STATUS = {"unknown-code": 404, "self-referral": 422}


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralOut,
    responses={
        200: {"model": ReferralOut, "description": "The same referral, already recorded"},
        **_REFUSED,
        **BODY_ERRORS,
    },
)
async def record(body: ReferralIn, state: State, _: Authorized, response: Response) -> ReferralOut:
    """Records that `customer_id` signed up with `code`: 201, or 200 on the repeat. Their
    first purchase completes it: both customers get a `referral.completed` event."""
    cap = state.program.referrals.max_per_referrer
    try:
        row, new = await asyncio.to_thread(
            state.store.referrals.record, body.code, body.customer_id, max_per_referrer=cap
        )
    except ReferralRefused as refused:
        status = _STATUS.get(refused.reason, 409)
        if status == 422:
            detail = [{"loc": ["body", refused.field], "msg": str(refused), "type": refused.reason}]
            raise HTTPException(status_code=422, detail=detail) from None
        raise HTTPException(status_code=status, detail=f"{refused.field}: {refused}") from None
    if not new:
        response.status_code = 200
    return ReferralOut.of(row)


@router.get(
    "/customers/{customer_id}/referral", response_model=ReferralCodeOut, responses={**NOT_FOUND}
)
async def code(customer_id: CustomerIdPath, state: State, _: Authorized) -> ReferralCodeOut:
    """The customer's referral code (made on first ask, then the same for ever) and the
    counts of the friends who used it."""

    def load() -> ReferralCodeOut | None:
        if state.store.customers.row(customer_id) is None:
            return None
        summary = state.store.referrals.summary(customer_id)
        return ReferralCodeOut(
            customer_id=customer_id,
            code=summary.code,
            referred=summary.referred,
            completed=summary.completed,
            max_per_referrer=state.program.referrals.max_per_referrer,
            referred_by=summary.referred_by,
        )

    found = await asyncio.to_thread(load)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no customer '{customer_id}'")
    return found
