"""``POST /v1/events`` and ``POST /v1/events/batch``: customer events, never lost.

An event is stored before the answer: ``202 Accepted`` means it is in the database, and
it will be routed to its journeys even if Temporal or the worker is down right now (the
relay routes what is stored and not yet routed, with backoff). A client-supplied ``id``
makes retries safe: the same id twice is stored and routed once. A batch is validated
whole and stored in one transaction: one bad event refuses the batch and stores nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from journeys.api.auth import Authorized
from journeys.api.state import ApiState, api_state
from journeys.events import Event
from journeys.metrics import EVENTS_ACCEPTED

router = APIRouter(prefix="/v1", tags=["events"])
State = Annotated[ApiState, Depends(api_state)]

BATCH_LIMIT = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            "an event name is letters, digits and . _ : - (e.g. cart.updated, purchase)"
        )
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("occurred_at needs a time zone offset (e.g. 2026-11-23T10:00:00Z)")
    return value


class EventIn(BaseModel):
    """One customer event, as an app sends it."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Your id for this event: retries with the same id are applied once. "
        "Generated when absent.",
    )
    customer_id: str = Field(min_length=1, max_length=200)
    name: Annotated[str, AfterValidator(_name)] = Field(min_length=1, max_length=100)
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: Annotated[datetime | None, AfterValidator(_aware)] = None

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


async def _store(state: ApiState, events: list[Event], endpoint: str) -> list[bool]:
    fresh = await asyncio.to_thread(state.store.record_events, events)
    for new in fresh:
        EVENTS_ACCEPTED.labels(endpoint=endpoint, duplicate=str(not new).lower()).inc()
    if state.relay is not None:
        state.relay.kick()
    return fresh


@router.post("/events", status_code=202, response_model=Accepted)
async def post_event(body: EventIn, state: State, _: Authorized) -> Accepted:
    """Stores one event (202 once stored), then routes it to its journeys."""
    event = body.event()
    [fresh] = await _store(state, [event], "single")
    return Accepted(id=event.id, duplicate=not fresh)


@router.post("/events/batch", status_code=202, response_model=BatchAccepted)
async def post_events(body: Batch, state: State, _: Authorized) -> BatchAccepted:
    """Stores up to 500 events in one transaction (all or none), then routes them."""
    events = [item.event() for item in body.events]
    fresh = await _store(state, events, "batch")
    return BatchAccepted(
        accepted=[
            Accepted(id=e.id, duplicate=not new) for e, new in zip(events, fresh, strict=True)
        ]
    )
