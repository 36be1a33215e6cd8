"""``/v1/customers/{id}``: identify (create or update a profile), read it back with points,
tier and segment, and list the customer's journeys.

A bad value gets a 422 naming the field, and nothing is written (the whole profile is
checked before the one transaction that stores it, consent changes included).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field, WithJsonSchema

from journeys.api.auth import Authorized
from journeys.api.fields import CustomerIdPath
from journeys.api.responses import BODY_ERRORS, NOT_FOUND, UNAUTHORIZED, UNAVAILABLE
from journeys.api.state import ApiState, api_state
from journeys.api.temporal_link import TemporalUnreachable
from journeys.customers.profiles import check_profile
from journeys.model.channels import CHANNELS
from journeys.model.journey_state import JourneyState
from journeys.model.json_values import json_problem
from journeys.model.profile import PROFILE_FIELDS, PROFILE_PATTERNS
from journeys.process.clock import utcnow

router = APIRouter(prefix="/v1/customers", tags=["customers"], responses={**UNAUTHORIZED})
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


_NO_NUL = r"(?![\s\S]*\x00)"
# An attribute's name: not blank, no NUL; inside `attributes`, not a profile field's name.
_ATTRIBUTE_NAME = {"pattern": rf"^{_NO_NUL}[\s\S]*\S[\s\S]*$"}


def _text(pattern: str, description: str) -> dict[str, Any]:
    """A profile field: text matching ``pattern`` (and no NUL), or null / "" to clear it."""
    body = pattern.removeprefix("^").removesuffix("$")
    return {
        "type": ["string", "null"],
        "pattern": f"^{_NO_NUL}(|{body})$",
        "description": description + "; null or empty clears it",
    }


# What check_profile accepts, for clients to read: the rules live in journeys.model.profile.
PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Profile fields go to their columns; any other key is an attribute "
    "(`customer.<key>` in templates), as is each key of `attributes`. Text anywhere has no "
    "NUL character; numbers are finite; `birthday` is not in the future and `time_zone` "
    "is an IANA zone.",
    "properties": {
        "email": _text(PROFILE_PATTERNS["email"], "An email address"),
        "phone": _text(PROFILE_PATTERNS["phone"], "A phone number, e.g. +33612345678"),
        "push_token": {"type": ["string", "null"], "pattern": rf"^{_NO_NUL}(|[\s\S]*\S[\s\S]*)$"},
        "locale": _text(PROFILE_PATTERNS["locale"], "A locale, e.g. en, fr or fr-CA"),
        "time_zone": {
            "anyOf": [{"enum": ["", *sorted(available_timezones())]}, {"type": "null"}],
            "description": "An IANA time zone, e.g. Europe/Paris",
        },
        "birthday": {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "maxLength": 0},
                {"type": "null"},
            ],
            "description": "YYYY-MM-DD, not in the future; null or empty clears it",
        },
        "consent": {
            "type": ["object", "null"],
            "description": "Marketing consent per channel",
            "properties": {channel: {"type": "boolean"} for channel in CHANNELS},
            "additionalProperties": False,
        },
        "attributes": {
            "type": ["object", "null"],
            "description": "More attributes (not named like a profile field)",
            "propertyNames": {**_ATTRIBUTE_NAME, "not": {"enum": [*PROFILE_FIELDS, "id"]}},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
        "id": {"type": "string", "description": "If given, the customer id of the path"},
    },
    "propertyNames": _ATTRIBUTE_NAME,
    "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
    "examples": [PROFILE_EXAMPLE],
}


class CustomerOut(BaseModel):
    customer: dict[str, Any] = Field(
        description="The profile, as templates see `customer` (with `badges`, a list of names)"
    )
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


@router.put("/{customer_id}", response_model=CustomerOut, responses={**BODY_ERRORS})
async def identify(
    customer_id: CustomerIdPath,
    state: State,
    key: Authorized,
    profile: Annotated[dict[str, Any], Body(), WithJsonSchema(PROFILE_SCHEMA)],
) -> CustomerOut:
    """Creates or updates the customer. Profile fields (email, phone, push_token, locale,
    time_zone, birthday, consent) go to their columns; any other key is an attribute.
    A consent change is recorded with the API key's name as its source."""
    problem = json_problem(profile)
    if problem:
        where, why = problem
        raise _unprocessable(where.split(".")[0].split("[")[0] or "profile", why)
    checked = check_profile(customer_id, profile)
    if checked.problems:
        problem = checked.problems[0]
        raise _unprocessable(problem.field, problem.message)
    await asyncio.to_thread(
        state.store.customers.identify,
        customer_id,
        profile=checked.columns,
        attributes=checked.attributes,
        source=f"api:{key.name}",
    )
    return await _read(state, customer_id)


@router.get("/{customer_id}", response_model=CustomerOut, responses={**NOT_FOUND})
async def read(customer_id: CustomerIdPath, state: State, _: Authorized) -> CustomerOut:
    """The profile with the loyalty snapshot: points (balance, next expiry), tier, segment."""
    return await _read(state, customer_id)


@router.get("/{customer_id}/journeys", response_model=list[JourneyOut], responses={**UNAVAILABLE})
async def journeys(customer_id: CustomerIdPath, state: State, _: Authorized) -> list[JourneyOut]:
    """The customer's journeys known to Temporal (running first), each with its state."""
    if state.journeys is None:
        raise HTTPException(status_code=503, detail="Temporal is not reachable from the API")
    try:
        found = await state.journeys(customer_id)
    except TemporalUnreachable as err:
        raise HTTPException(status_code=503, detail=f"Temporal did not answer: {err}") from None
    return [JourneyOut(**j) for j in found]


async def _read(state: ApiState, customer_id: str) -> CustomerOut:
    def load() -> CustomerOut | None:
        customer = state.store.customers.get(customer_id)
        if customer is None:
            return None
        customer["badges"] = state.store.badges.of(customer_id)  # as templates see them
        return CustomerOut(customer=customer, **state.store.loyalty.snapshot(customer_id, utcnow()))

    found = await asyncio.to_thread(load)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no customer '{customer_id}'")
    return found
