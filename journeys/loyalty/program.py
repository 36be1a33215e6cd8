"""The loyalty program's rules, from ``loyalty.yaml``: what a purchase earns, when points
expire, the tiers and their spend thresholds, the RFM window, the referral cap, what the
KPIs assume.

A settings file (not the environment) because the loyalty manager owns these numbers and
reviews them like the scenarios; a bad value is reported as ``loyalty.yaml:LINE: ...``.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
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

from journeys.files.problems import Problem, ScenarioError
from journeys.files.yaml_lines import LineDict, LineList, YamlSyntaxError, load_yaml_file
from journeys.loyalty.counters import CounterName, CounterRule
from journeys.model.durations import Duration, format_duration
from journeys.model.limits import AUTHORING, longer_than_zero, within_max_wait
from journeys.model.local_time import local_moment


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_negative(value: timedelta, info: ValidationInfo) -> timedelta:
    """A lot expiring before it is earned, or a window reaching back before it starts, is
    a typo."""
    if value < timedelta(0):
        raise ValueError(f"'{info.field_name}' cannot be negative (got {format_duration(value)})")
    return value


# A loyalty.yaml period: 0 up to ten years (``journeys.model.limits``, checked as the file is
# read); a window or an expiry must also be above 0.
Period = Annotated[Duration, AfterValidator(_not_negative), AfterValidator(within_max_wait)]
Window = Annotated[Period, longer_than_zero(say_value=False)]


class Expiry(_Strict):
    """When earned points expire: ``after`` a period, then optionally at the end of that
    month or year in the customer's time zone. Neither: points never expire.

    Points always expire at the end of a local day (local midnight), never at the time of
    day they were earned: a scenario step "on the last day at 10:00" must find the points
    still there whatever hour they were earned. ``after: 20d`` earned on 3 March at 18:00
    keeps them through 23 March and they are gone at 24 March 00:00 local time.
    """

    after: Window | None = None
    until_end_of: Literal["month", "year"] | None = None

    def expires_at(self, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
        """The first instant (UTC) the points are gone: local midnight after their last day."""
        if self.after is None and self.until_end_of is None:
            return None
        last_day = (earned_at + (self.after or timedelta(0))).astimezone(zone).date()
        if self.until_end_of == "year":
            last_day = last_day.replace(month=12, day=31)
        elif self.until_end_of == "month":
            last_day = last_day.replace(day=calendar.monthrange(last_day.year, last_day.month)[1])
        return local_moment(last_day + timedelta(days=1), time(0), zone)


def last_local_day(expires_at: datetime, zone: ZoneInfo) -> date:
    """The last day points can be used, in the customer's zone: the day before the local
    midnight they expire at. Audiences and ``points`` in templates both use this, so
    ``points.next_expiring_on == event.expires_on`` holds."""
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


class ReferralRules(_Strict):
    """How many friends one customer may refer (``POST /v1/referrals`` refuses the next
    with a 409). Every recorded referral counts, completed or still pending: a cap on
    rewards alone would let one code sign up any number of accounts."""

    max_per_referrer: int = Field(default=10, ge=1, le=100_000)


class KpiRules(_Strict):
    """What the program KPIs assume (``journeys.store.kpis``): the years a member stays, the
    lifetime the estimated CLV multiplies a member's yearly revenue by. An assumption the
    loyalty manager states and reviews, not a figure measured from a few months of data."""

    lifetime_years: float = Field(default=3.0, gt=0, le=100)


class LoyaltyProgram(_Strict):
    # The shop's currency (ISO 4217): amounts here, and value coupons that name none.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
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
    # Durable per-customer counts of events (``journeys.loyalty.counters``).
    counters: dict[CounterName, CounterRule] = Field(default_factory=dict)
    referrals: ReferralRules = ReferralRules()
    kpis: KpiRules = KpiRules()

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
        except YamlSyntaxError as err:  # also a folder or an unreadable loyalty.yaml
            raise ScenarioError([err.problem(str(path))]) from None
        try:
            return cls.model_validate(data or {}, context=AUTHORING)
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
