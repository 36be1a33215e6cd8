"""The tables of the journeys database, and the shape a customer row takes in a context.

Kept apart from the store's parts (the transactions) so the schema reads on one page.
Timestamps are stored as UTC and always come back timezone-aware, on SQLite (which has no
timezone type) as on PostgreSQL (``timestamptz``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from journeys.model.channels import CHANNELS
from journeys.model.profile import ADDRESS_FIELDS, PROFILE_FIELDS, check_profile_value
from journeys.process.clock import utcnow

# Ledger statuses that settle a send: a ``sent`` row never changes again.
SENT = "sent"
RESERVED = "reserved"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; a naive value is taken as UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


class Customer(SQLModel, table=True):
    """A customer profile. ``consent`` maps channel → bool; an absent channel = no consent."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_birth_month_day", "birth_month", "birth_day"),
        Index("ix_customers_last_seen", "last_seen_at"),
        Index("ix_customers_time_zone", "time_zone"),  # the audience scan's DISTINCT
    )

    id: str = Field(primary_key=True)
    email: str | None = None
    phone: str | None = None
    push_token: str | None = None
    locale: str = "en"
    time_zone: str = "UTC"  # IANA name: local times (wait_until, quiet hours) use it
    consent: dict[str, bool] = Field(default_factory=dict, sa_type=JSON)
    birthday: date | None = Field(default=None, sa_type=Date)
    # Month and day of the birthday, kept beside it so "whose birthday is on 03-05" is an
    # indexed SQL lookup on every database (SQLite has no portable date-part function).
    birth_month: int | None = None
    birth_day: int | None = None
    # The last event the customer sent: audiences of inactive customers read it.
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Delivery(SQLModel, table=True):
    """The delivery ledger: one row per (delivery_key, channel), reserved before the send.

    status: ``reserved`` | ``sent`` | ``suppressed:no-consent`` | ``suppressed:unreachable``
    | ``suppressed:suppression-list`` | ``suppressed:capped`` | ``deferred:quiet-hours`` |
    ``failed:<reason>``.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("delivery_key", "channel", name="uq_deliveries_key_channel"),
        Index("ix_deliveries_customer", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_key: str
    channel: str
    status: str
    reason: str = ""
    workflow_id: str = ""
    # The journey entry (its trigger event id); None on rows written before it was kept,
    # whose entry the funnels read from the first key format instead.
    entry_id: str | None = None
    run_id: str = ""
    scenario_id: str = ""
    step_id: str = ""
    customer_id: str = ""
    template: str = ""
    # The address the reserved send goes to: a retry sends there with the same key, even if
    # the profile changed meanwhile (the first attempt may already have reached it).
    recipient: str | None = None
    provider_message_id: str | None = None
    # For the frequency cap: marketing rows reserved or sent within the period count, at
    # the journey's clock (virtual under time skipping, the wall clock in production).
    purpose: str | None = None
    journey_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the provider reported later (status webhooks), apart from ``status`` so the
    # exactly-once logic never sees it: ``delivered``, ``undelivered``, ``failed`` (Twilio),
    # ``delivered``, ``bounce``, ``blocked``, ``dropped``, ``spamreport`` (SendGrid), ...
    provider_status: str | None = None
    provider_status_reason: str | None = None
    provider_status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Suppression(SQLModel, table=True):
    """An address nothing is sent to, whatever the purpose: a hard bounce, a spam complaint.

    Keyed by the address, not the customer: a bounced mailbox stays bounced when another
    customer record (or a typo fixed back) carries it. ``address`` is normalized
    (``normalize_address``) so ``Ana@Example.com`` and ``ana@example.com`` are one entry.
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_suppressions_channel_address"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    address: str
    reason: str = ""
    created_at: datetime = timestamp_field()


class ConsentChange(SQLModel, table=True):
    """Append-only consent history: who changed a channel's consent, when, and how.

    The customer row holds the current flag; this table is the proof a deliverability or
    privacy review asks for (an unsubscribe link clicked, a spam complaint, a profile update).
    """

    __tablename__ = "consent_changes"
    __table_args__ = (Index("ix_consent_changes_customer", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str
    channel: str
    purpose: str = "marketing"
    granted: bool
    source: str  # e.g. unsubscribe-link, spam-complaint, provider-unsubscribe
    detail: str = ""
    created_at: datetime = timestamp_field()


class OutboxMessage(SQLModel, table=True):
    """A rendered message kept instead of sent: exactly what would have gone out.

    ``delivery_key`` is unique: it is the adapter's idempotency key.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_customer", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_key: str = Field(unique=True)
    customer_id: str
    scenario_id: str = ""
    step_id: str = ""
    channel: str
    recipient: str
    subject: str = ""
    text: str = ""
    html: str | None = None
    locale: str = ""
    template_file: str = ""
    journey_time: datetime | None = Field(default=None, sa_type=UTCDateTime)  # workflow clock
    created_at: datetime = timestamp_field()  # wall clock


class JourneyEntry(SQLModel, table=True):
    """One customer entering one scenario; the memory behind ``reentry: once``.

    ``once_key`` is ``"once"`` on entries made under that policy and NULL otherwise: the
    unique (scenario, customer, once_key) lets only one of two racing first entries in,
    on every database (NULLs never collide).
    """

    __tablename__ = "journey_entries"
    __table_args__ = (
        Index("ix_journey_entries_scenario_customer", "scenario_id", "customer_id"),
        UniqueConstraint("scenario_id", "customer_id", "once_key", name="uq_journey_entries_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(unique=True)
    scenario_id: str
    customer_id: str
    workflow_id: str = ""
    entered_at: datetime = timestamp_field()
    once_key: str | None = None


class AppliedUpdate(SQLModel, table=True):
    """An ``update`` step already applied, keyed by ``<workflow>/<entry>/<step>``.

    Written in the same transaction as the customer change, so a retried activity (local
    activities run at least once) finds it and returns the stored values instead of adding
    ``points + 100`` a second time.
    """

    __tablename__ = "applied_updates"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    customer_id: str
    values: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    applied_at: datetime = timestamp_field()


def customer_context(row: Customer) -> dict[str, Any]:
    """What templates and expressions see as ``customer`` (see ``journeys.rendering.context``).

    Attributes are lifted to the top and the profile fields override them. ``consent``
    always has every channel (absent = ``False``) so ``customer.consent.sms`` is a
    plain boolean, never a strict-undefined error.
    """
    consent = row.consent or {}
    return {
        **(row.attributes or {}),
        "id": row.id,
        **{field: getattr(row, field) for field in ADDRESS_FIELDS},
        "locale": row.locale or "en",
        "time_zone": row.time_zone or "UTC",
        "birthday": row.birthday.isoformat() if row.birthday else None,
        "consent": {channel: bool(consent.get(channel, False)) for channel in CHANNELS},
    }


def blank_customer(customer_id: str) -> dict[str, Any]:
    """The context shape of a customer we know nothing about: no address, no consent."""
    return customer_context(Customer(id=customer_id))


def apply_profile(row: Customer, profile: Mapping[str, Any]) -> None:
    """Sets profile columns; ``consent`` is merged per channel, ``None`` resets a default.

    Every value goes through ``check_profile_value`` first, so a bad value changes nothing.
    """
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"unknown customer field(s): {', '.join(sorted(unknown))}")
    checked = {name: check_profile_value(name, value) for name, value in profile.items()}
    for name, value in checked.items():
        if name == "consent":
            row.consent = {**(row.consent or {}), **(value or {})}
        elif name == "time_zone":
            row.time_zone = value or "UTC"
        elif name == "locale":
            row.locale = value or "en"
        elif name == "birthday":
            row.birthday = value
            row.birth_month, row.birth_day = (value.month, value.day) if value else (None, None)
        else:
            setattr(row, name, value)
