"""``/v1/customers/{id}``: identify (create or update a profile), read it back with points,
tier and segment, and list the customer's journeys.

A bad value gets a 422 naming the field, and nothing is written (the whole profile is
checked before the one transaction that stores it, consent changes included).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from journeys.api.auth import Authorized
from journeys.api.state import ApiState, api_state
from journeys.customers import check_profile
from journeys.journey_state import JourneyState
from journeys.store_models import utcnow

router = APIRouter(prefix="/v1/customers", tags=["customers"])
State = Annotated[ApiState, Depends(api_state)]

PROFILE_EXAMPLE = {
    "email": "ana@example.com",
    "phone": "+33612345678",
    "locale": "fr",
    "time_zone": "Europe/Paris",
    "birthday": "1990-03-05",
    "consent": {"email": True, "sms": False},
    "first_name": "Ana",
}


class CustomerOut(BaseModel):
    customer: dict[str, Any] = Field(description="The profile, as templates see `customer`")
    points: dict[str, Any]
    tier: str | None
    segment: str | None


class JourneyOut(BaseModel):
    workflow_id: str
    scenario_id: str
    status: str
    state: JourneyState | None = Field(description="Absent when the journey could not answer")


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


@router.put("/{customer_id}", response_model=CustomerOut)
async def identify(
    customer_id: str,
    state: State,
    key: Authorized,
    profile: Annotated[dict[str, Any], Body(examples=[PROFILE_EXAMPLE])],
) -> CustomerOut:
    """Creates or updates the customer. Profile fields (email, phone, push_token, locale,
    time_zone, birthday, consent) go to their columns; any other key is an attribute.
    A consent change is recorded with the API key's name as its source."""
    checked = check_profile(customer_id, profile)
    if checked.problems:
        problem = checked.problems[0]
        raise _unprocessable(problem.field, problem.message)
    await asyncio.to_thread(
        state.store.identify_customer,
        customer_id,
        profile=checked.columns,
        attributes=checked.attributes,
        source=f"api:{key.name}",
    )
    return await _read(state, customer_id)


@router.get("/{customer_id}", response_model=CustomerOut)
async def read(customer_id: str, state: State, _: Authorized) -> CustomerOut:
    """The profile with the loyalty snapshot: points (balance, next expiry), tier, segment."""
    return await _read(state, customer_id)


@router.get("/{customer_id}/journeys", response_model=list[JourneyOut])
async def journeys(customer_id: str, state: State, _: Authorized) -> list[JourneyOut]:
    """The customer's journeys known to Temporal (running first), each with its state."""
    if state.journeys is None:
        raise HTTPException(status_code=503, detail="Temporal is not reachable from the API")
    return [JourneyOut(**j) for j in await state.journeys(customer_id)]


async def _read(state: ApiState, customer_id: str) -> CustomerOut:
    def load() -> CustomerOut | None:
        customer = state.store.get_customer(customer_id)
        if customer is None:
            return None
        return CustomerOut(customer=customer, **state.store.loyalty_snapshot(customer_id, utcnow()))

    found = await asyncio.to_thread(load)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no customer '{customer_id}'")
    return found
