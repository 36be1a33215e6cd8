"""Inputs and outputs of the activities a journey calls.

Pure pydantic, imported by the workflow (by activity *name*, so workflow code never imports
database or Jinja modules) and by the activity implementations in ``activities/``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from journeys.model.channels import ChannelName
from journeys.model.coupon_contracts import IssuedCoupon
from journeys.model.events import Event
from journeys.model.scenario import Purpose, ReentryPolicy


class JourneyContext(BaseModel):
    """Who and what an expression or a template is about, at the journey's own clock."""

    customer_id: str
    event: Event | None = None
    last_event: Event | None = None
    now: datetime
    vars: dict[str, Any] = Field(default_factory=dict)  # the scenario's constants
    coupon: IssuedCoupon | None = None  # the last one a coupon step issued in this entry


class FactRequest(BaseModel):
    """A fact for the funnels (``journeys.store.tracking_tables.JourneyFact``)."""

    workflow_id: str
    entry_id: str
    scenario_id: str
    customer_id: str
    kind: Literal["entered", "waiting", "goal", "completed", "exited"]
    step_id: str = ""
    detail: str = ""
    at: datetime


class DeliverRequest(BaseModel):
    """One send step. ``delivery_key`` is unique per step per journey entry: the ledger key
    (``journeys.model.journey_keys``); ``entry_id`` names the entry for the funnels (empty from
    journeys scheduled before it was sent)."""

    delivery_key: str
    entry_id: str = ""
    workflow_id: str
    run_id: str
    scenario_id: str
    step_id: str
    channels: list[ChannelName]
    template: str
    purpose: Purpose
    context: JourneyContext
    # The journey's funnel facts not yet written (``workflows.facts``): written before the
    # send. ``end``: the entry's end when this send is its last step, written with a final
    # result (not a deferral). ``DeliverResult.facts_recorded`` says both are.
    facts: list[FactRequest] = Field(default_factory=list)
    end: FactRequest | None = None


class ChannelDecision(BaseModel):
    channel: ChannelName
    status: str  # sent | suppressed:<why> | deferred:quiet-hours | failed:<reason>
    reason: str = ""


class DeliverResult(BaseModel):
    status: Literal["sent", "suppressed", "deferred"]
    channel: ChannelName | None = None
    message_id: str | None = None
    # deferred: quiet hours in the customer's time zone; the journey waits until then.
    retry_at: datetime | None = None
    decisions: list[ChannelDecision] = Field(default_factory=list)
    facts_recorded: bool = False  # the request's facts and end are written


class ConditionRequest(BaseModel):
    expression: str
    context: JourneyContext


class WaitUntilRequest(BaseModel):
    """Resolve a wait_until step to a UTC moment (needs the customer's time zone and Jinja)."""

    time: str | None = None
    at: str | None = None
    offset: timedelta | None = None
    # True: the offset was written in d/w and moves the local calendar; False: h/m/s, elapsed.
    calendar_offset: bool | None = None
    context: JourneyContext


class UpdateRequest(BaseModel):
    values: dict[str, Any]
    context: JourneyContext
    # Applied at most once per key ("<workflow id>/<entry id>/<step id>"); empty: no guard.
    key: str = ""


class PointsRequest(BaseModel):
    """An update step's ``points``: a signed number or one ``"{{ expression }}"``."""

    points: int | str
    reason: str = ""
    context: JourneyContext
    key: str  # "<workflow id>/<entry id>/<step id>": the wallet's reference, once per entry


class EntryRequest(BaseModel):
    """Asks whether a customer may enter, and records the entry when they may."""

    workflow_id: str
    scenario_id: str
    customer_id: str
    entry_id: str
    policy: ReentryPolicy
    now: datetime


class FactsRequest(BaseModel):
    """Facts a journey recorded with no write in between, written in one transaction."""

    facts: list[FactRequest]


# Activity names, shared by the workflow (caller) and the worker (implementer).
DELIVER = "deliver"
EVALUATE_CONDITION = "evaluate_condition"
RESOLVE_WAIT_UNTIL = "resolve_wait_until"
UPDATE_CUSTOMER = "update_customer"
RECORD_ENTRY = "record_entry"
CHANGE_POINTS = "change_points"
RECORD_FACT = "record_fact"
RECORD_FACTS = "record_facts"
