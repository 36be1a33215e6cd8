"""A journey's input, its progress (carried across continue-as-new) and its queryable state.

Pure pydantic: used inside the workflow sandbox and by the CLI that prints ``status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from journeys.model.coupon_contracts import IssuedCoupon
from journeys.model.events import Event
from journeys.model.scenario import Scenario

JourneyStatus = Literal[
    "waiting-for-trigger", "running", "holding", "completed", "exited", "not-entered"
]

TIMELINE_LIMIT = 200
MESSAGES_LIMIT = 200
INBOX_LIMIT = 100
# reentry queue: entries that may wait their turn (a workflow input must stay small).
QUEUED_TRIGGERS_LIMIT = 100
QUEUED_TRIGGERS_BYTES = 256 * 1024  # well inside CARRIED_INPUT_BYTES with everything else
# What a journey carries into continue-as-new, as JSON, at most: Temporal refuses a payload
# over 2 MiB (the server's default blob limit), which would fail the workflow task for ever.
CARRIED_INPUT_BYTES = 1024 * 1024
SEEN_IDS_LIMIT = 2000


class SentMessage(BaseModel):
    step_id: str
    status: str  # sent | suppressed | failed
    channel: str | None = None
    at: datetime
    detail: str = ""


class TimelineEntry(BaseModel):
    at: datetime
    step_id: str
    note: str


class EventSeen(BaseModel):
    id: str
    name: str
    at: datetime
    effect: str


class JourneyProgress(BaseModel):
    """Everything the interpreter needs to resume exactly where it was."""

    status: JourneyStatus = "waiting-for-trigger"
    entry_id: str = ""
    # How this entry's step keys are written (``journeys.model.journey_keys``): chosen when the
    # entry begins and kept across continue-as-new, so one entry never mixes formats.
    key_format: int = 1
    entries: int = 0
    pc: int = 0  # the current op: an index into the compiled steps (journeys.model.ops)
    # The moment the current wait ends: kept so a re-run of the step resumes the same wait.
    deadline: datetime | None = None
    trigger: Event | None = None
    last_event: Event | None = None
    entered_at: datetime | None = None
    hold_until: datetime | None = None
    # Events received but not yet applied, in arrival order (applied at the loop's safe points).
    queue: list[Event] = Field(default_factory=list)
    # reentry queue: triggers that came during an entry, each entered in turn after it.
    queued_triggers: list[Event] = Field(default_factory=list)
    # Applied events a wait_for step may take (their name is awaited by some wait_for step).
    inbox: list[Event] = Field(default_factory=list)
    seen_ids: list[str] = Field(default_factory=list)
    events: list[EventSeen] = Field(default_factory=list)
    messages: list[SentMessage] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    goal_reached_at: datetime | None = None
    exit_reason: str = ""
    # The last coupon a ``coupon`` step issued in this entry (``coupon`` in templates).
    coupon: IssuedCoupon | None = None


class JourneyInput(BaseModel):
    scenario: Scenario
    customer_id: str
    progress: JourneyProgress | None = None
    # Continue-as-new when history passes this many events (None: the server's suggestion).
    history_limit: int | None = None


class JourneyState(BaseModel):
    """What ``journeys status`` shows: answered by a query, at the journey's own clock."""

    scenario_id: str
    scenario_version: str
    customer_id: str
    status: JourneyStatus
    current_step: str | None = None
    waiting_until: datetime | None = None
    waiting_for: str | None = None
    entries: int = 0
    goal_reached_at: datetime | None = None
    exit_reason: str = ""
    events: list[EventSeen] = Field(default_factory=list)
    messages: list[SentMessage] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)


def journey_id(scenario_id: str, customer_id: str) -> str:
    """One workflow per (scenario, customer): signal-with-start makes duplicates impossible."""
    return f"journey/{scenario_id}/{customer_id}"
