"""The referral tables: each customer's code, and who referred whom.

Kept apart from the loyalty tables so the schema of this lever reads on one page. The
unique keys carry the rules every database enforces, whatever the code above them does:
one code per customer and one customer per code, one referrer per friend, and one
completion per referral (its completing purchase is unique too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from journeys.store.tables import UTCDateTime, timestamp_field

# Referral statuses: ``pending`` until the friend's first purchase, then ``completed``.
PENDING = "pending"
COMPLETED = "completed"


class ReferralCode(SQLModel, table=True):
    """A customer's code to hand to friends; made on first ask and never changed."""

    __tablename__ = "referral_codes"

    customer_id: str = Field(primary_key=True)
    code: str = Field(unique=True)
    created_at: datetime = timestamp_field()


class Referral(SQLModel, table=True):
    """A friend who signed up with a referrer's code. ``friend_id`` is unique: a customer
    is referred once, by one referrer; ``purchase_ref`` (the purchase event id) is the
    source reference of the completion."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_referrer", "referrer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    referrer_id: str
    friend_id: str = Field(unique=True)
    code: str
    status: str = PENDING
    created_at: datetime = timestamp_field()
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    purchase_ref: str | None = Field(default=None, unique=True)
