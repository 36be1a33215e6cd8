"""The loyalty tables: purchases, the points wallet (lots and an append-only ledger),
tier state and RFM scores.

Kept apart from ``journeys.store.tables`` (profiles, deliveries) so each schema reads on
one page. Points are integers (a program never hands out half a point); purchase amounts
are floats rounded to cents on the way in: they are only summed and compared with tier
thresholds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from journeys.store.tables import UTCDateTime, timestamp_field

# Lot statuses. ``pending``: earned but inside the returns window, not spendable yet;
# ``active``: spendable while ``remaining > 0``; ``expired``: what remained is gone.
PENDING = "pending"
ACTIVE = "active"
EXPIRED = "expired"

# Points ledger kinds; ``amount`` is signed (+earn, -redeem, -expire).
EARN = "earn"
REDEEM = "redeem"
EXPIRE = "expire"


class Purchase(SQLModel, table=True):
    """One purchase, once: ``source_ref`` (the event id) is unique, so a replayed
    ``purchase`` event neither earns twice nor counts twice toward the tier."""

    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_customer_time", "customer_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str
    amount: float
    currency: str = ""
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    source_ref: str = Field(unique=True)
    created_at: datetime = timestamp_field()


class PointsLot(SQLModel, table=True):
    """Points earned together, spent and expired together. Redemption consumes lots
    earliest-expiry first (a lot that never expires last)."""

    __tablename__ = "points_lots"
    __table_args__ = (
        Index("ix_points_lots_customer_status", "customer_id", "status"),
        Index("ix_points_lots_expires", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str
    amount: int
    remaining: int
    status: str = ACTIVE
    reason: str = ""
    earned_at: datetime = Field(sa_type=UTCDateTime)
    active_at: datetime = Field(sa_type=UTCDateTime)  # pending until then
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: never
    source_ref: str = Field(unique=True)  # the same purchase never earns twice
    created_at: datetime = timestamp_field()


class PointsEntry(SQLModel, table=True):
    """The append-only points ledger: every earn, redemption and expiry, per lot.

    balance = earned - redeemed - expired holds over these rows at any time. A
    redemption touching three lots writes three rows under one ``source_ref``; the unique
    (kind, source_ref, lot) makes a retried redemption or expiry a no-op.
    """

    __tablename__ = "points_entries"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref", "lot_id", name="uq_points_entries_kind_ref_lot"),
        Index("ix_points_entries_customer", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str
    kind: str  # earn | redeem | expire
    amount: int  # signed
    lot_id: int
    source_ref: str
    reason: str = ""
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = timestamp_field()


class TierState(SQLModel, table=True):
    """The customer's current tier and the rolling 12-month spend it was decided on."""

    __tablename__ = "tier_states"

    customer_id: str = Field(primary_key=True)
    tier: str
    since: datetime = Field(sa_type=UTCDateTime)
    spend_12m: float = 0.0
    evaluated_at: datetime = Field(sa_type=UTCDateTime)


class RfmScore(SQLModel, table=True):
    """One RFM scoring of one customer (history: one row per customer per scoring run)."""

    __tablename__ = "rfm_scores"
    __table_args__ = (
        Index("ix_rfm_scores_customer", "customer_id", "computed_at"),
        UniqueConstraint("run_id", "customer_id", name="uq_rfm_scores_run_customer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str
    customer_id: str
    recency_days: int
    frequency: int
    monetary: float
    r: int
    f: int
    m: int
    segment: str
    computed_at: datetime = Field(sa_type=UTCDateTime)


class CustomerSegment(SQLModel, table=True):
    """The customer's current RFM segment (the latest ``RfmScore``), for audiences."""

    __tablename__ = "customer_segments"
    __table_args__ = (Index("ix_customer_segments_segment", "segment"),)

    customer_id: str = Field(primary_key=True)
    segment: str
    r: int
    f: int
    m: int
    since: datetime = Field(sa_type=UTCDateTime)
    computed_at: datetime = Field(sa_type=UTCDateTime)
