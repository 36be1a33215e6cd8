"""The customer event: what apps send and what journeys receive as signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    """One thing a customer did. ``id`` makes delivery idempotent end to end."""

    id: str
    name: str
    customer_id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None


def encoded_size(event: Event) -> int:
    """The bytes of the event's JSON: about what a signal carrying it weighs in Temporal."""
    return len(event.model_dump_json().encode())
