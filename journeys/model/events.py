"""The customer event: what apps send and what journeys receive as signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    """One thing a customer did. ``id`` makes delivery idempotent end to end.

    ``counters`` is filled by the router, never by an app (the API's body has no such
    field): this customer's ``loyalty.yaml`` counters as of this event, this event
    included, for the events that count toward one (``journeys.store.counters``).
    """

    id: str
    name: str
    customer_id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None
    # Left out of the JSON when empty: an event no counter counts weighs what it always did.
    counters: dict[str, int] = Field(default_factory=dict, exclude_if=lambda counts: not counts)


def encoded_size(event: Event) -> int:
    """The bytes of the event's JSON: about what a signal carrying it weighs in Temporal."""
    return len(event.model_dump_json().encode())


def event_too_large(event: Event, limit: int) -> str | None:
    """Why ``event`` is too large for its journeys (Temporal refuses payloads over 2 MiB,
    and a journey carries its waiting events along), or None; the one check and sentence
    of the API (a 422) and of ``send-event`` (refused before it is stored)."""
    size = encoded_size(event)
    if size <= limit:
        return None
    return (
        f"the event is {size} bytes as JSON, over the limit of {limit} bytes "
        "(JOURNEYS_MAX_EVENT_BYTES)"
    )
