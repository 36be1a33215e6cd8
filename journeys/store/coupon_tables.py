"""The coupon tables: issued coupons, their redemptions, imported code pools and the key
that shuffles generated codes.

Money is kept in hundredths (``value_cents``, ``amount_cents``), integers on every
database: SQLite has no exact decimal type, and a coupon worth 5.10 must stay 5.10.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from journeys.store.tables import UTCDateTime, timestamp_field

# Coupon statuses as stored; ``expired`` is not stored but read from ``expires_at``, so no
# job has to run at midnight for a coupon to stop working.
ISSUED = "issued"
REDEEMED = "redeemed"
EXPIRED = "expired"
CODE_MAX = 64


class Coupon(SQLModel, table=True):
    """One coupon of one customer, issued once per ``source_ref`` (the journey step key).

    ``code`` is unique (generated from ``id``, or taken from a pool); it is filled in the
    transaction that creates the row (the id is only known after the insert). The current
    redemption, if any, is copied here from ``coupon_redemptions`` for a one-row read.
    """

    __tablename__ = "coupons"
    __table_args__ = (Index("ix_coupons_customer_offer", "customer_id", "offer"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, unique=True, max_length=CODE_MAX)
    customer_id: str
    offer: str
    kind: str  # percent | value
    percent: int | None = None
    value_cents: int | None = None
    currency: str | None = None
    pool: str | None = None
    issued_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status: str = ISSUED
    source_ref: str = Field(unique=True)
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    order_id: str | None = None
    order_amount_cents: int | None = None
    created_at: datetime = timestamp_field()


class CouponRedemption(SQLModel, table=True):
    """Every redemption of a coupon, by order: the same order redeeming again is the same
    redemption (the unique pair), and a return marks it ``returned_at``, never deletes it."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (UniqueConstraint("coupon_id", "order_id", name="uq_coupon_redemptions"),)

    id: int | None = Field(default=None, primary_key=True)
    coupon_id: int = Field(foreign_key="coupons.id")
    order_id: str
    amount_cents: int | None = None
    redeemed_at: datetime = Field(sa_type=UTCDateTime)
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PoolCode(SQLModel, table=True):
    """An imported code. ``coupon_id`` is set when a coupon step takes it (once: the take
    locks the row and skips rows others hold)."""

    __tablename__ = "coupon_pool_codes"
    __table_args__ = (Index("ix_coupon_pool_codes_free", "pool", "coupon_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    pool: str
    code: str = Field(unique=True, max_length=CODE_MAX)
    source: str = ""  # file:line it was imported from
    coupon_id: int | None = None
    imported_at: datetime = Field(sa_type=UTCDateTime)


class CouponCodeKey(SQLModel, table=True):
    """The random key that shuffles the generated codes' alphabet: made once per database
    (the first insert wins), never changed, so a code generated today never equals one
    generated later from another id."""

    __tablename__ = "coupon_code_keys"

    id: int = Field(default=1, primary_key=True)
    key: str
    created_at: datetime = timestamp_field()
