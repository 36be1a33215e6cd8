"""``Store``: the database as one object made of per-concern parts that share one engine.

Callers name the part they mean (``store.customers.get``, ``store.ledger.record``,
``store.points.earn``); a part that needs another gets it in its constructor, so what
depends on what is written here, once.

Schema changes are additive: ``create_schema`` creates missing tables and adds missing
nullable columns to existing ones (``ALTER TABLE ... ADD COLUMN``), never drops anything.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from journeys.store import (  # noqa: F401
    access_tables,
    counter_tables,
    coupon_tables,
    loyalty_tables,
    tables,
    tracking_tables,
)
from journeys.store.access import Access
from journeys.store.audiences import Audiences
from journeys.store.badges import Badges
from journeys.store.consent import Consent
from journeys.store.counters import Counters
from journeys.store.coupons import Coupons
from journeys.store.customers import Customers
from journeys.store.engine import Database, add_missing_columns
from journeys.store.entries import Journeys
from journeys.store.events import EventLog
from journeys.store.kpis import Kpis
from journeys.store.ledger import Ledger
from journeys.store.loyalty import Loyalty
from journeys.store.outbox import Outbox
from journeys.store.points import Points
from journeys.store.referrals import Referrals
from journeys.store.schema_lock import schema_lock


class Store:
    """Short, self-contained transactions over the journeys database, by concern."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)
        self.customers = Customers(self.database)
        self.consent = Consent(self.database)
        self.ledger = Ledger(self.database)
        self.outbox = Outbox(self.database)
        self.journeys = Journeys(self.database)
        self.events = EventLog(self.database)
        self.audiences = Audiences(self.database)
        self.points = Points(self.database)
        self.referrals = Referrals(self.database)
        self.loyalty = Loyalty(self.database, self.points, self.referrals)
        self.access = Access(self.database)
        self.counters = Counters(self.database)
        self.badges = Badges(self.database)
        self.kpis = Kpis(self.database)
        self.coupons = Coupons(self.database)

    @property
    def url(self) -> str:
        return self.database.url

    @property
    def engine(self) -> Engine:
        return self.database.engine

    def create_schema(self) -> None:
        # Every table module is imported above: ``metadata`` holds them all. Replicas
        # (workers, APIs) start together and each creates the schema: one at a time.
        with schema_lock(self.engine):
            SQLModel.metadata.create_all(self.engine)
            add_missing_columns(self.engine)
