"""The scenario language as pydantic models.

Pure code with no I/O: a parsed scenario is the snapshot a journey carries in its workflow
input, and this module is imported inside Temporal's workflow sandbox. Reading YAML files
(with line numbers) lives in ``journeys.authoring.scenario_file``; checks that need Jinja or the
template folder live in ``journeys.authoring.validate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from journeys.model.audience_filters import (
    AttributeFilter,
    DateAttributeFilter,
    EventFilter,
    broadcast_moment,
)
from journeys.model.channels import ChannelName
from journeys.model.cron import cron_problem
from journeys.model.durations import Duration
from journeys.model.limits import (
    BoundedDuration,
    PositiveDuration,
    enforced,
    every_problem,
    longer_than_zero,
    points_problem,
)

Purpose = Literal["marketing", "transactional"]
ReentryPolicy = Literal["restart", "ignore", "once", "once_per", "queue"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _every(value: timedelta, info: ValidationInfo) -> timedelta:
    if enforced(info.context) and (problem := every_problem(value)):
        raise ValueError(problem)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    """Common to every step: a stable id (written or generated) and its source line."""

    id: str
    line: int = Field(default=0, exclude=True, repr=False)

    def children(self) -> Iterator[tuple[str, list[AnyStep]]]:
        """Named nested blocks, in source order (none for simple steps)."""
        return iter(())


class WaitStep(Step):
    kind: Literal["wait"] = "wait"
    duration: PositiveDuration


class WaitUntilStep(Step):
    """Wait for a local time of day, a computed moment (``at``), or both (that day, at time).

    ``offset`` shifts the ``at`` moment. Written in days or weeks (``-30d``, ``1w``) it moves
    along the customer's local calendar, so "30 days before, at 10:00" stays 10:00 across a
    DST change; in hours, minutes or seconds (``48h``) it is elapsed time. A timedelta
    forgets its unit (``48h == 2d``), so ``calendar_offset`` records it, derived from what
    was written, and travels with the snapshot.
    """

    kind: Literal["wait_until"] = "wait_until"
    time: str | None = None
    at: str | None = None
    offset: BoundedDuration | None = None
    calendar_offset: bool = False

    @model_validator(mode="before")
    @classmethod
    def _offset_unit(cls, data: Any) -> Any:
        if isinstance(data, dict) and "calendar_offset" not in data:
            offset = data.get("offset")
            if offset is not None:
                return {**data, "calendar_offset": _in_days(offset)}
        return data

    @field_validator("time")
    @classmethod
    def _time_of_day(cls, value: str | None) -> str | None:
        if value is not None and not _LOCAL_TIME.match(value):
            raise ValueError(f"'{value}' is not a time of day: write it as HH:MM, e.g. 09:30")
        return value

    @model_validator(mode="after")
    def _time_or_moment(self) -> WaitUntilStep:
        if self.time is None and self.at is None:
            raise ValueError("wait_until needs a time of day (09:00) or an 'at' expression")
        if self.offset is not None and self.at is None:
            raise ValueError(
                "wait_until 'offset' shifts the 'at' moment, and there is no 'at': "
                "write {at: <expression>, offset: ...}, or drop the offset and pick the time"
            )
        return self


def _in_days(offset: Any) -> bool:
    """Was this offset written in days or weeks? (A timedelta: is it whole days?)"""
    if isinstance(offset, str):
        return offset.strip()[-1:] in ("d", "w")
    return isinstance(offset, timedelta) and offset % timedelta(days=1) == timedelta(0)


class WaitForStep(Step):
    kind: Literal["wait_for"] = "wait_for"
    event: str
    timeout: PositiveDuration
    where: str | None = None
    received: list[AnyStep] = Field(default_factory=list)
    timed_out: list[AnyStep] = Field(default_factory=list)

    def children(self) -> Iterator[tuple[str, list[AnyStep]]]:
        yield "received", self.received
        yield "timed_out", self.timed_out


class IfStep(Step):
    kind: Literal["if"] = "if"
    condition: str
    then: list[AnyStep] = Field(default_factory=list)
    otherwise: list[AnyStep] = Field(default_factory=list)

    def children(self) -> Iterator[tuple[str, list[AnyStep]]]:
        yield "then", self.then
        yield "else", self.otherwise


class SplitVariant(_Strict):
    name: str
    weight: int = Field(gt=0)
    steps: list[AnyStep] = Field(default_factory=list)
    line: int = Field(default=0, exclude=True, repr=False)


class SplitStep(Step):
    """Deterministic per customer: the same customer always lands in the same variant."""

    kind: Literal["split"] = "split"
    variants: list[SplitVariant] = Field(min_length=1)
    holdout: int = Field(default=0, ge=0, lt=100)

    def children(self) -> Iterator[tuple[str, list[AnyStep]]]:
        for variant in self.variants:
            yield f"variant {variant.name}", variant.steps


class SendStep(Step):
    """One message; ``channels`` is an ordered fallback list (first reachable one wins)."""

    kind: Literal["send"] = "send"
    channels: list[ChannelName] = Field(min_length=1)
    template: str
    purpose: Purpose | None = None


class UpdateStep(Step):
    """Sets profile fields or attributes, and/or awards (``points: 200``) or deducts
    (``points: -50``) points in the wallet; ``points`` may be a ``"{{ expression }}"``;
    and/or awards a named ``badge``, once per customer."""

    kind: Literal["update"] = "update"
    set: dict[str, Any] = Field(default_factory=dict)
    points: int | str | None = None
    reason: str = ""
    badge: str | None = None  # a field added after v1: older steps never carry one

    @field_validator("badge")
    @classmethod
    def _badge_name(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) <= 64 and _SLUG.match(value)):
            raise ValueError(
                f"badge '{value}' must be 1-64 lower-case letters, digits and . _ -, "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _something(self, info: ValidationInfo) -> UpdateStep:
        if not self.set and self.points is None and self.badge is None:
            raise ValueError(
                "an update needs 'set' (values), 'points' (+award / -deduct) or 'badge'"
            )
        if self.points == 0:
            raise ValueError("points: 0 changes nothing: write a positive or negative number")
        problem = points_problem(self.points) if isinstance(self.points, int) else None
        if problem and enforced(info.context):
            raise ValueError(problem)
        return self


class ExitStep(Step):
    kind: Literal["exit"] = "exit"
    reason: str = "exit step"


_COUPON_NAMES = {
    "offer": (
        r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$",
        "must be 1-100 letters, digits, '.', '_', ':', '/', '-'",
    ),
    "pool": (r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "must be 1-100 letters, digits, '.', '_', '-'"),
    "currency": (r"^[A-Z]{3}$", "must be a three-letter ISO 4217 code such as EUR or USD"),
}
MAX_COUPON_VALUE = Decimal("1000000")
MAX_PER_CUSTOMER = 1000


class CouponStep(Step):
    """Issues one coupon to the customer, once per journey entry (see ``workflows.coupon_step``).

    Worth ``percent`` (1-100) or ``value`` (an amount in ``currency``, by default the
    shop's), valid for ``valid_for``; its code is generated, or the next unused one of an
    imported ``pool``. ``per_customer`` caps how many coupons of the ``offer`` (default
    ``<scenario id>/<step id>``) a customer ever gets, across entries and scenarios; past
    it no coupon is issued, the ``limit_reached`` steps run instead of the rest, and the
    entry ends: a message promising a coupon is never sent without one.
    """

    kind: Literal["coupon"] = "coupon"
    offer: str | None = None
    percent: int | None = Field(default=None, ge=1, le=100)
    value: Decimal | None = Field(default=None, gt=0, le=MAX_COUPON_VALUE, decimal_places=2)
    currency: str | None = None
    pool: str | None = None
    valid_for: PositiveDuration
    per_customer: int | None = Field(default=None, ge=1, le=MAX_PER_CUSTOMER)
    limit_reached: list[AnyStep] = Field(default_factory=list)

    @field_validator("offer", "pool", "currency")
    @classmethod
    def _names(cls, value: str | None, info: ValidationInfo) -> str | None:
        rule = _COUPON_NAMES[str(info.field_name)]
        if value is not None and not (len(value) <= 100 and re.match(rule[0], value)):
            raise ValueError(f"'{info.field_name}' {rule[1]}, not '{value[:100]}'")
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        """``5.1`` in YAML is a float: read it as written (``5.10``), never ``5.0999...``."""
        return Decimal(str(value)) if isinstance(value, float) else value

    @model_validator(mode="after")
    def _worth(self) -> CouponStep:
        if (self.percent is None) == (self.value is None):
            raise ValueError(
                "a coupon is worth either 'percent' (1-100) or 'value' (an amount): "
                "write exactly one of them"
            )
        if self.currency is not None and self.value is None:
            raise ValueError("'currency' goes with 'value', not with 'percent'")
        return self

    def children(self) -> Iterator[tuple[str, list[AnyStep]]]:
        yield "limit_reached", self.limit_reached

    def offer_name(self, scenario_id: str) -> str:
        return self.offer or f"{scenario_id}/{self.id}"


AnyStep = Annotated[
    WaitStep
    | WaitUntilStep
    | WaitForStep
    | IfStep
    | SplitStep
    | SendStep
    | UpdateStep
    | ExitStep
    | CouponStep,
    Field(discriminator="kind"),
]
STEP_MODELS: tuple[type[Step], ...] = get_args(get_args(AnyStep)[0])
STEP_KINDS: tuple[str, ...] = tuple(model.model_fields["kind"].default for model in STEP_MODELS)
# Step fields the loader or the model sets, never the marketer: writing one is an error
# (`- send: {kind: wait, duration: 1h}` must not quietly become a wait).
INTERNAL_STEP_FIELDS = ("kind", "line", "calendar_offset")


class Schedule(_Strict):
    """When a scheduled scenario scans its audience: ``every`` (intervals count from the
    Unix epoch, so ``1d`` is 00:00 UTC), a ``cron`` line (UTC), or once ``at`` a moment (a
    broadcast: RFC 3339 with its offset). Birthday scans run hourly so every time zone's
    morning is met."""

    every: Annotated[Duration, longer_than_zero(), AfterValidator(_every)] | None = None
    cron: str | None = None
    at: Annotated[datetime, BeforeValidator(broadcast_moment)] | None = None

    @model_validator(mode="after")
    def _one(self, info: ValidationInfo) -> Schedule:
        if [self.every, self.cron, self.at].count(None) != 2:
            raise ValueError(
                "a schedule is one of {every: 1h}, {cron: '0 * * * *'} or "
                "{at: '2027-03-03T18:00:00Z'} (once)"
            )
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(
                f"'{self.cron}' is not a cron line: five fields, minute hour day month weekday"
            )
        authoring = self.cron is not None and enforced(info.context)
        if authoring and (problem := cron_problem(str(self.cron))):
            raise ValueError(problem)
        return self


class Audience(_Strict):
    """Who a scheduled scenario picks, every filter given must hold (they combine with AND).

    The first of birthday, date_attribute, points_expiring or inactive names the occasion a
    journey is about (the birthday, the renewal date, the expiry date, the last visit), so
    a customer enters once per occasion however often the scan runs; otherwise once per
    scan (a broadcast's scans all have its one moment, so once per broadcast).
    """

    birthday: Literal["today"] | None = None  # in the customer's own time zone
    points_expiring: PositiveDuration | None = None  # spendable points expiring within
    tier: list[str] | None = Field(default=None, min_length=1)
    segment: list[str] | None = Field(default=None, min_length=1)
    inactive: PositiveDuration | None = None  # no event for at least this long
    attributes: list[AttributeFilter] | None = Field(default=None, min_length=1)
    events: list[EventFilter] | None = Field(default=None, min_length=1)
    date_attribute: DateAttributeFilter | None = None  # a date so many days ahead

    @model_validator(mode="after")
    def _some(self) -> Audience:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            raise ValueError(
                "an audience needs at least one of birthday, points_expiring, tier, segment, "
                "inactive, attributes, events, date_attribute"
            )
        if self.birthday is not None and self.date_attribute is not None:
            raise ValueError("an audience is about one date: birthday or date_attribute, not both")
        return self


class Trigger(_Strict):
    """An event, or a schedule with an audience. A scheduled trigger's event is named
    ``scheduled.<scenario id>``: its journeys run like any other (and a marketer can start
    one by hand by sending that event)."""

    event: str = ""
    schedule: Schedule | None = None
    audience: Audience | None = None

    @model_validator(mode="after")
    def _event_or_schedule(self) -> Trigger:
        if (self.schedule is None) != (self.audience is None):
            raise ValueError("a scheduled trigger needs both 'schedule' and 'audience'")
        if self.schedule is None and not self.event:
            raise ValueError("a trigger needs an event, or a schedule with an audience")
        if self.schedule is not None and not self.event.startswith(_SCHEDULED_PREFIX):
            raise ValueError("a trigger is an event or a schedule with an audience, not both")
        return self

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None


_SCHEDULED_PREFIX = "scheduled."


def scheduled_event(scenario_id: str) -> str:
    return _SCHEDULED_PREFIX + scenario_id


class Entry(_Strict):
    condition: str | None = None
    reentry: ReentryPolicy = "restart"
    once_per: PositiveDuration | None = None

    @model_validator(mode="after")
    def _period(self) -> Entry:
        if self.reentry == "once_per" and self.once_per is None:
            raise ValueError("reentry once_per needs a period: {once_per: 365d}")
        if self.reentry != "once_per" and self.once_per is not None:
            raise ValueError(
                f"'once_per' only goes with reentry once_per, not with reentry {self.reentry}: "
                "write reentry: {once_per: <period>}"
            )
        return self


class Goal(_Strict):
    event: str
    within: PositiveDuration


class Sample(_Strict):
    """Example data for validation and previews: what a real trigger event would carry."""

    customer: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)
    # What an awaited event carries (``last_event`` after a wait_for, e.g. an answer's
    # ``score``); empty: ``last_event`` is the trigger event, as when nothing was awaited.
    last_event: dict[str, Any] = Field(default_factory=dict)
    # over the sample context of journeys.rendering.templating
    points: dict[str, Any] = Field(default_factory=dict)
    tier: str | None = "gold"
    segment: str | None = "Loyal"
    counters: dict[str, int] = Field(default_factory=dict)  # loyalty.yaml counters' values


class Scenario(_Strict):
    id: str
    name: str
    description: str = ""
    category: Purpose = "marketing"
    trigger: Trigger
    entry: Entry = Entry()
    exit_on: list[str] = Field(default_factory=list)
    goal: Goal | None = None
    steps: list[AnyStep] = Field(min_length=1)
    # Constants the marketer sets once for every message of the scenario (a sale's name,
    # date and link): templates and expressions see them as ``vars.*``.
    vars: dict[str, Any] = Field(default_factory=dict)
    sample: Sample = Sample()
    # Set by the loader: where the snapshot came from and a digest of its text.
    source: str = ""
    version: str = ""

    @model_validator(mode="before")
    @classmethod
    def _scheduled_event(cls, data: Any) -> Any:
        """A scheduled trigger gets its event name here, where the scenario id is known."""
        if not isinstance(data, dict):
            return data
        trigger = data.get("trigger")
        if isinstance(trigger, dict) and "schedule" in trigger and "event" not in trigger:
            return {**data, "trigger": {**trigger, "event": scheduled_event(str(data.get("id")))}}
        return data

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"'{value}' is not a valid scenario id: use lowercase letters, digits, '-', '_'"
            )
        return value

    def walk(self) -> Iterator[AnyStep]:
        """Every step, depth first in source order."""
        yield from walk_steps(self.steps)

    def listens_to(self) -> set[str]:
        """Event names a running journey of this scenario wants to hear about."""
        names = set(self.exit_on) | {self.trigger.event}
        if self.goal:
            names.add(self.goal.event)
        names.update(step.event for step in self.walk() if isinstance(step, WaitForStep))
        return names


def walk_steps(steps: list[AnyStep]) -> Iterator[AnyStep]:
    for step in steps:
        yield step
        for _, block in step.children():
            yield from walk_steps(block)


for _model in (WaitForStep, IfStep, SplitVariant, SplitStep, CouponStep, Scenario):
    _model.model_rebuild()
