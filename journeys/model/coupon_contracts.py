"""The coupon a journey issued, and the one activity that issues it.

Pure pydantic, imported by the workflow (by activity *name*) and by ``activities.coupons``.
``IssuedCoupon`` travels in the journey's progress and context, so the steps after a
``coupon`` step see it as ``coupon`` in templates and expressions without a store read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

CouponKind = Literal["percent", "value"]


class IssuedCoupon(BaseModel):
    """What templates see as ``coupon``: ``coupon.code``, ``coupon.percent`` or
    ``coupon.value`` (+ ``coupon.currency``), ``coupon.expires_on`` (the last local day it
    can be used, in the customer's zone) and ``coupon.offer``."""

    code: str
    offer: str
    kind: CouponKind
    percent: int | None = None
    value: Decimal | None = None
    currency: str | None = None
    issued_at: datetime
    expires_at: datetime  # the first instant it is no longer valid (local midnight)
    expires_on: date  # the last local day it is valid


class CouponRequest(BaseModel):
    """One ``coupon`` step of one journey entry. ``key`` is the step key (the delivery
    ledger's, ``journeys.model.journey_keys``): the coupon's source reference, so a retried
    activity or a replay returns the coupon already issued."""

    key: str
    customer_id: str
    offer: str
    percent: int | None = None
    value: Decimal | None = None
    currency: str | None = None  # None: the shop's (``loyalty.yaml`` ``currency``)
    valid_for: timedelta
    per_customer: int | None = None  # coupons of this offer one customer may ever hold
    pool: str | None = None  # take an imported code instead of generating one
    now: datetime


class CouponResult(BaseModel):
    """The coupon, or why none was issued (``limit reached``: the journey's own business)."""

    coupon: IssuedCoupon | None = None
    reason: str = ""


ISSUE_COUPON = "issue_coupon"
