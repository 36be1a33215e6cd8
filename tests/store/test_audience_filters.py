"""Audience filters on attributes, event history and date attributes, in SQL, on SQLite and
PostgreSQL alike: each operator, numbers against text, missing values, window edges.

Every moment is pinned (``AT``): nothing depends on when the suite runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeys.loyalty.program import TierRules
from journeys.model.events import Event
from journeys.model.scenario import Audience
from journeys.store import Store
from journeys.store.audience_sql import AudienceMember


@pytest.fixture
def store(each_database_store: Store) -> Store:
    return each_database_store


AT = datetime(2027, 2, 28, 20, 0, tzinfo=UTC)  # 21:00 in Paris, 05:00 on 1 March in Tokyo


def everyone(store: Store, audience: Audience, at: datetime = AT) -> list[AudienceMember]:
    """All pages (two members each), checking that no customer is read twice."""
    members: list[AudienceMember] = []
    cursor = ""
    while True:
        page, cursor = store.audiences.page(audience, at, cursor, 2)
        members += page
        if not cursor:
            break
    ids = [m.customer_id for m in members]
    assert len(ids) == len(set(ids)), "a customer was read twice"
    return members


def picked(store: Store, **audience: Any) -> set[str]:
    return {m.customer_id for m in everyone(store, Audience.model_validate(audience))}


PROFILES: dict[str, dict[str, Any]] = {
    "a": {"city": "Paris", "vip_optin": True, "lifetime_orders": 7},
    "b": {"city": "Lyon", "vip_optin": "true", "lifetime_orders": "5"},  # a CSV import: text
    "c": {"city": "paris", "vip_optin": False, "lifetime_orders": 4.0},
    "d": {},
    "e": {"city": 75, "lifetime_orders": "10"},  # "10" < "9" as text, not as a number
    "f": {"vip_optin": "yes", "lifetime_orders": "5 orders"},  # neither a boolean nor a number
    "g": {"lifetime_orders": None},
}


@pytest.fixture
def attributed(store: Store) -> Store:
    for customer_id, attributes in PROFILES.items():
        locale = "fr" if customer_id in ("a", "c") else "en"
        store.customers.upsert(customer_id, attributes=attributes, locale=locale)
    return store


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"name": "city", "equals": "Paris"}, {"a"}),  # text is compared exactly
        ({"name": "vip_optin", "equals": True}, {"a", "b"}),  # a JSON true, or the text
        ({"name": "vip_optin", "equals": False}, {"c"}),
        ({"name": "lifetime_orders", "at_least": 5}, {"a", "b", "e"}),
        ({"name": "lifetime_orders", "at_least": 9}, {"e"}),  # as numbers: 10 >= 9
        ({"name": "lifetime_orders", "at_most": 5}, {"b", "c"}),
        ({"name": "lifetime_orders", "at_least": 4.5}, {"a", "b", "e"}),
        ({"name": "lifetime_orders", "equals": 5}, {"b"}),  # "5" is the number 5
        ({"name": "lifetime_orders", "equals": 4}, {"c"}),  # 4.0 is 4
        ({"name": "city", "in": ["Paris", "Lyon"]}, {"a", "b"}),
        ({"name": "city", "in": [75, "paris"]}, {"c", "e"}),
        ({"name": "city", "not": "Paris"}, {"b", "c", "d", "e", "f", "g"}),  # missing too
        ({"name": "city", "equals": "75"}, set()),  # the number 75 is not the text "75"
        ({"name": "city", "exists": True}, {"a", "b", "c", "e"}),
        ({"name": "lifetime_orders", "exists": False}, {"d", "g"}),  # null counts as absent
        ({"name": "locale", "equals": "fr"}, {"a", "c"}),  # a profile field
        ({"name": "locale", "not": "fr"}, {"b", "d", "e", "f", "g"}),
        ({"name": "locale", "in": ["en"]}, {"b", "d", "e", "f", "g"}),
    ],
)
def test_each_attribute_operator(attributed: Store, rule: dict[str, Any], expected: set) -> None:
    assert picked(attributed, attributes=[rule]) == expected


def test_attribute_filters_combine_with_and(attributed: Store) -> None:
    rules = [
        {"name": "vip_optin", "equals": True},
        {"name": "lifetime_orders", "at_least": 6},
    ]
    assert picked(attributed, attributes=rules) == {"a"}


def _event(store: Store, customer_id: str, name: str, at: datetime) -> None:
    store.events.record(
        Event(
            id=f"{customer_id}/{name}/{at.isoformat()}",
            name=name,
            customer_id=customer_id,
            occurred_at=at,
        )
    )


@pytest.fixture
def history(store: Store) -> Store:
    window = timedelta(days=90)
    second = timedelta(seconds=1)
    events = {
        "edge-in": [("purchase", AT - window), ("purchase", AT)],  # both edges are in
        "edge-out": [("purchase", AT - window - second), ("purchase", AT)],
        "future": [("purchase", AT + second)],  # after the scan's moment: not counted
        "clicker": [("purchase", AT - timedelta(days=10)), ("newsletter.clicked", AT)],
        "quiet": [],
    }
    for customer_id, happened in events.items():
        store.customers.upsert(customer_id)
        for name, at in happened:
            _event(store, customer_id, name, at)
    return store


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"at_least": 2}, {"edge-in"}),
        ({}, {"edge-in", "edge-out", "clicker"}),  # at least one
        ({"at_most": 1}, {"edge-out", "future", "clicker", "quiet"}),  # none counts as 0
        ({"at_least": 1, "at_most": 1}, {"edge-out", "clicker"}),
        ({"none": True}, {"future", "quiet"}),
    ],
)
def test_event_history_in_the_window(history: Store, rule: dict[str, Any], expected: set) -> None:
    audience = {"events": [{"name": "purchase", "within": "90d", **rule}]}
    assert picked(history, **audience) == expected


def test_event_filters_combine_with_and(history: Store) -> None:
    rules = [
        {"name": "purchase", "within": "90d"},
        {"name": "newsletter.clicked", "within": "30d", "none": True},
    ]
    assert picked(history, events=rules) == {"edge-in", "edge-out"}


def test_a_date_attribute_so_many_days_ahead_in_each_customers_zone(store: Store) -> None:
    # At AT it is 28 February in Paris and already 1 March in Tokyo.
    renewals = {
        "paris-14": ("Europe/Paris", "2027-03-14"),
        "paris-13": ("Europe/Paris", "2027-03-13"),
        "tokyo-15": ("Asia/Tokyo", "2027-03-15"),
        "tokyo-14": ("Asia/Tokyo", "2027-03-14"),  # 13 days ahead in Tokyo
        "paris-none": ("Europe/Paris", None),
        "paris-text": ("Europe/Paris", "soon"),
    }
    for customer_id, (zone, renews_on) in renewals.items():
        attributes = {} if renews_on is None else {"renews_on": renews_on}
        store.customers.upsert(customer_id, time_zone=zone, attributes=attributes)

    audience = Audience.model_validate({"date_attribute": {"name": "renews_on", "days_before": 14}})
    members = {m.customer_id: m for m in everyone(store, audience)}

    assert set(members) == {"paris-14", "tokyo-15"}
    assert members["paris-14"].occasion == "renews_on:2027-03-14"
    assert members["tokyo-15"].properties == {
        "renews_on": "2027-03-15",
        "date": "2027-03-15",
        "days_before": 14,
    }
    # An hour later the same customers, the same occasions: one journey per renewal.
    later = everyone(store, audience, AT + timedelta(hours=1))
    assert {(m.customer_id, m.occasion) for m in later} == {
        (m.customer_id, m.occasion) for m in members.values()
    }


def test_tier_attributes_and_history_together(store: Store) -> None:
    tiers = TierRules(
        levels=[
            {"name": "member", "min_spend": 0},
            {"name": "gold", "min_spend": 100},
            {"name": "platinum", "min_spend": 1000},
        ]
    )
    for customer_id, spend, optin in (
        ("gold-in", 150, True),
        ("platinum-in", 1500, True),
        ("gold-out", 150, False),
        ("member-in", 10, True),
    ):
        store.customers.upsert(customer_id, attributes={"vip_optin": optin})
        store.loyalty.record_purchase(
            customer_id, spend, source_ref=customer_id, occurred_at=AT - timedelta(days=5)
        )
        store.loyalty.evaluate_tier(customer_id, AT, tiers)
        _event(store, customer_id, "purchase", AT - timedelta(days=5))

    audience = {
        "tier": ["gold", "platinum"],
        "attributes": [{"name": "vip_optin", "equals": True}],
        "events": [{"name": "purchase", "within": "30d"}],
    }
    assert picked(store, **audience) == {"gold-in", "platinum-in"}
