"""``POST /v1/events`` and ``POST /v1/events/batch``: customer events, never lost.

An event is stored before the answer: ``202 Accepted`` means it is in the database, and
it will be routed to its journeys even if Temporal or the worker is down right now (the
relay routes what is stored and not yet routed, with backoff). A client-supplied ``id``
makes retries safe: the same id twice is stored and routed once. A batch is validated
whole and stored in one transaction: one bad event refuses the batch and stores nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from journeys.api.auth import Authorized
from journeys.api.fields import EventName, Id, JsonObject, Moment
from journeys.api.responses import BODY_ERRORS, UNAUTHORIZED
from journeys.api.state import ApiState, api_state
from journeys.model.events import Event, event_too_large
from journeys.model.json_values import MAX_DEPTH
from journeys.process.metrics import EVENTS_ACCEPTED

router = APIRouter(prefix="/v1", tags=["events"], responses={**UNAUTHORIZED})
State = Annotated[ApiState, Depends(api_state)]

BATCH_LIMIT = 500


class EventIn(BaseModel):
    """One customer event, as an app sends it."""

    model_config = ConfigDict(extra="forbid")

    id: Id | None = Field(
        default=None,
        description="Your id for this event: retries with the same id are applied once. "
        "Generated when absent. 1-200 characters, no control characters.",
    )
    customer_id: Id = Field(description="1-200 characters, no control characters")
    name: EventName = Field(
        description="Letters, digits and . _ : - (e.g. cart.updated, purchase)",
        examples=["cart.updated"],
    )
    properties: JsonObject = Field(
        default_factory=dict,
        description="Any JSON object: finite numbers, no NUL or unpaired surrogate in text, "
        f"nested at most {MAX_DEPTH} deep; the whole event at most JOURNEYS_MAX_EVENT_BYTES "
        "(64 KiB by default) as JSON.",
    )
    occurred_at: Moment | None = Field(default=None, description="Default: when received")

    def event(self) -> Event:
        return Event(
            id=self.id or uuid.uuid4().hex,
            name=self.name,
            customer_id=self.customer_id,
            properties=self.properties,
            occurred_at=self.occurred_at,
        )


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=BATCH_LIMIT)


class Accepted(BaseModel):
    id: str
    duplicate: bool = Field(description="True when this id was already stored (a retry)")


class BatchAccepted(BaseModel):
    accepted: list[Accepted]


def _check_sizes(state: ApiState, events: list[Event], *, batch: bool) -> None:
    """A 422 for an event its journeys could not receive (Temporal refuses big payloads),
    before anything is stored."""
    for index, event in enumerate(events):
        message = event_too_large(event, state.settings.max_event_bytes)
        if message:
            loc = ["body", "events", index, "properties"] if batch else ["body", "properties"]
            raise HTTPException(
                status_code=422, detail=[{"loc": loc, "msg": message, "type": "too_large"}]
            )


async def _store(state: ApiState, events: list[Event], endpoint: str) -> list[bool]:
    fresh = await asyncio.to_thread(state.store.events.record_many, events)
    for new in fresh:
        EVENTS_ACCEPTED.labels(endpoint=endpoint, duplicate=str(not new).lower()).inc()
    if state.relay is not None:
        state.relay.kick()
    return fresh


@router.post("/events", status_code=202, response_model=Accepted, responses={**BODY_ERRORS})
async def post_event(body: EventIn, state: State, _: Authorized) -> Accepted:
    """Stores one event (202 once stored), then routes it to its journeys."""
    event = body.event()
    _check_sizes(state, [event], batch=False)
    [fresh] = await _store(state, [event], "single")
    return Accepted(id=event.id, duplicate=not fresh)


@router.post(
    "/events/batch", status_code=202, response_model=BatchAccepted, responses={**BODY_ERRORS}
)
async def post_events(body: Batch, state: State, _: Authorized) -> BatchAccepted:
    """Stores up to 500 events in one transaction (all or none), then routes them."""
    events = [item.event() for item in body.events]
    _check_sizes(state, events, batch=True)
    fresh = await _store(state, events, "batch")
    return BatchAccepted(
        accepted=[
            Accepted(id=e.id, duplicate=not new) for e, new in zip(events, fresh, strict=True)
        ]
    )
