"""The loyalty program's rules, from ``loyalty.yaml``: what a purchase earns, when points
expire, the tiers and their spend thresholds, the RFM window.

A settings file (not the environment) because the loyalty manager owns these numbers and
reviews them like the scenarios; a bad value is reported as ``loyalty.yaml:LINE: ...``.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from journeys.durations import Duration, format_duration
from journeys.limits import wait_problem
from journeys.problems import Problem, ScenarioError
from journeys.yaml_lines import LineDict, LineList, YamlSyntaxError, load_yaml_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _within_limits(value: timedelta, info: ValidationInfo) -> timedelta:
    """Ten years at most (``journeys.limits``), never negative: a lot expiring before it is
    earned, or a window reaching past year 1, is a typo."""
    if value < timedelta(0):
        raise ValueError(f"'{info.field_name}' cannot be negative (got {format_duration(value)})")
    if problem := wait_problem(str(info.field_name), value):
        raise ValueError(problem)
    return value


def _positive(value: timedelta, info: ValidationInfo) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"'{info.field_name}' must be longer than zero")
    return value


# A loyalty.yaml period: 0 up to ten years; a window or an expiry must also be above 0.
Period = Annotated[Duration, AfterValidator(_within_limits)]
Window = Annotated[Duration, AfterValidator(_within_limits), AfterValidator(_positive)]


class Expiry(_Strict):
    """When earned points expire: ``after`` a period, then optionally at the end of that
    month or year in the customer's time zone. Neither: points never expire."""

    after: Window | None = None
    until_end_of: Literal["month", "year"] | None = None

    def expires_at(self, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
        if self.after is None and self.until_end_of is None:
            return None
        moment = (earned_at + (self.after or timedelta(0))).astimezone(zone)
        if self.until_end_of is None:
            return moment
        # The first instant after the period: local midnight of the next month or year.
        if self.until_end_of == "year":
            end = moment.replace(year=moment.year + 1, month=1, day=1)
        else:
            days = calendar.monthrange(moment.year, moment.month)[1]
            end = moment.replace(day=days) + timedelta(days=1)
        return end.replace(hour=0, minute=0, second=0, microsecond=0)


def last_local_day(expires_at: datetime, zone: ZoneInfo) -> date:
    """The last day points can be used, in the customer's zone: an expiry at local midnight
    (the end-of-month rule) makes the day before the last one. Audiences and ``points``
    in templates both use this, so ``points.next_expiring_on == event.expires_on`` holds."""
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date()


class PointsRules(_Strict):
    per_currency_unit: float = Field(default=1.0, ge=0)
    # A returns window: earned points are pending (not spendable) for this long.
    pending: Period = timedelta(0)
    expiry: Expiry = Expiry(after=timedelta(days=365))


class Tier(_Strict):
    name: str
    min_spend: float = Field(ge=0)


class TierRules(_Strict):
    window: Window = timedelta(days=365)
    levels: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierRules:
        spends = [level.min_spend for level in self.levels]
        if spends != sorted(spends) or len(set(spends)) != len(spends):
            raise ValueError("tier levels must be listed from the lowest min_spend up")
        if spends[0] != 0:
            raise ValueError("the first tier must have min_spend 0 (everyone is in a tier)")
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self

    def tier_for(self, spend: float) -> str:
        return [level.name for level in self.levels if spend >= level.min_spend][-1]

    def rank(self, tier: str) -> int:
        names = [level.name for level in self.levels]
        return names.index(tier) if tier in names else -1


class RfmRules(_Strict):
    window: Window = timedelta(days=365)


class LoyaltyProgram(_Strict):
    purchase_event: str = "purchase"
    amount_property: str = "amount"
    points: PointsRules = PointsRules()
    tiers: TierRules = TierRules(
        levels=[
            Tier(name="member", min_spend=0),
            Tier(name="silver", min_spend=300),
            Tier(name="gold", min_spend=1000),
            Tier(name="platinum", min_spend=3000),
        ]
    )
    rfm: RfmRules = RfmRules()

    def points_for(self, amount: float) -> int:
        """Whole points for a purchase amount, rounded down (no half points)."""
        return int(amount * self.points.per_currency_unit + 1e-9)

    @classmethod
    def load(cls, path: Path) -> LoyaltyProgram:
        """The program in ``path``; the defaults above when the file does not exist."""
        if not path.exists():
            return cls()
        try:
            data = load_yaml_file(path)
        except YamlSyntaxError as err:
            raise ScenarioError([Problem(str(path), err.line, err.message)]) from None
        try:
            return cls.model_validate(data or {})
        except ValidationError as err:
            problems = [
                Problem(str(path), _line_of(data, e["loc"]), _message(e)) for e in err.errors()
            ]
            raise ScenarioError(problems) from None


def _message(error: dict) -> str:  # type: ignore[type-arg]
    where = ".".join(str(part) for part in error["loc"])
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if where else text


def _line_of(data: object, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest key of ``loc`` found in the YAML tree."""
    line, node = getattr(data, "line", 1), data
    for part in loc:
        in_dict = isinstance(node, LineDict) and part in node
        in_list = isinstance(node, LineList) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            break
        line, node = node.line_of(part), node[part]  # type: ignore[union-attr, index]
    return line
