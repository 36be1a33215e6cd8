"""Scheduled audiences in SQL, on SQLite and PostgreSQL: who is picked, in pages, once per
occasion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.loyalty.program import Expiry, PointsRules, RfmRules, TierRules
from journeys.model.events import Event
from journeys.model.scenario import Audience
from journeys.store import Store
from journeys.store.audience_sql import AudienceMember


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


AT = datetime(2027, 2, 28, 20, 0, tzinfo=UTC)  # 21:00 in Paris, 05:00 on 1 March in Tokyo


def everyone(
    wallet: Store, audience: Audience, at: datetime, limit: int = 2
) -> list[AudienceMember]:
    """All pages of the audience, checking that the pages never overlap."""
    members: list[AudienceMember] = []
    cursor = ""
    while True:
        page, cursor = wallet.audiences.page(audience, at, cursor, limit)
        assert len(page) <= limit
        members += page
        if not cursor:
            break
    ids = [m.customer_id for m in members]
    assert len(ids) == len(set(ids)), "a customer was read twice"
    return members


def test_birthday_today_is_in_each_customers_own_time_zone(store: Store) -> None:
    born = {
        "paris-28feb": ("Europe/Paris", "1990-02-28"),
        "paris-29feb": ("Europe/Paris", "2000-02-29"),  # 2027: celebrated on 28 February
        "paris-1mar": ("Europe/Paris", "1991-03-01"),
        "tokyo-1mar": ("Asia/Tokyo", "1985-03-01"),  # already 1 March in Tokyo
        "tokyo-28feb": ("Asia/Tokyo", "1985-02-28"),  # over in Tokyo
        "la-28feb": ("America/Los_Angeles", "1970-02-28"),
        "no-birthday": ("Europe/Paris", None),
    }
    for customer_id, (zone, birthday) in born.items():
        store.customers.upsert(customer_id, time_zone=zone, birthday=birthday)

    members = everyone(store, Audience(birthday="today"), AT)

    picked = {m.customer_id: m for m in members}
    assert set(picked) == {"paris-28feb", "paris-29feb", "tokyo-1mar", "la-28feb"}
    assert picked["tokyo-1mar"].occasion == "2027-03-01"
    assert picked["paris-29feb"].occasion == "2027-02-28"
    assert picked["paris-28feb"].properties == {"birthday": "2027-02-28", "age": 37}
    assert picked["paris-29feb"].properties == {"birthday": "2027-02-28", "age": 27}


def test_29_february_is_its_own_day_in_a_leap_year(store: Store) -> None:
    store.customers.upsert("leapling", time_zone="Europe/Paris", birthday="2000-02-29")
    leap_28th = datetime(2028, 2, 28, 12, tzinfo=UTC)
    leap_29th = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert everyone(store, Audience(birthday="today"), leap_28th) == []
    [member] = everyone(store, Audience(birthday="today"), leap_29th)
    assert member.occasion == "2028-02-29"


def test_points_expiring_within_the_window(store: Store) -> None:
    rules = PointsRules(expiry=Expiry(after=timedelta(days=40)))
    earned = AT - timedelta(days=20)  # expires 20 days after AT
    for customer_id, points in (("soon", 300), ("soon-spent", 100), ("later", 500)):
        store.customers.upsert(customer_id, time_zone="Europe/Paris")
        at = earned if customer_id != "later" else AT  # "later" expires 40 days after AT
        store.points.earn(
            customer_id, points, source_ref=customer_id, reason="x", at=at, rules=rules
        )
    store.points.earn("soon", 50, source_ref="soon-2", reason="x", at=earned, rules=rules)
    store.points.redeem("soon-spent", 100, source_ref="spent", reason="x", at=AT)

    [member] = everyone(store, Audience(points_expiring=timedelta(days=30)), AT)

    assert member.customer_id == "soon"
    expires = datetime(2027, 3, 20, 23, tzinfo=UTC)  # the end of 20 March (40 days), in Paris
    assert member.occasion == f"expires:{expires.isoformat()}"
    assert member.properties == {
        "expires_at": expires.isoformat(),
        "expires_on": "2027-03-20",  # the last day, in Paris
        "amount": 350,
    }


def test_tier_segment_and_inactive_filters_combine(store: Store) -> None:
    tiers = TierRules(
        levels=[{"name": "member", "min_spend": 0}, {"name": "gold", "min_spend": 100}]
    )
    for customer_id, spend, seen_days_ago in (
        ("gold-idle", 150, 100),
        ("gold-active", 150, 5),
        ("member-idle", 10, 100),
    ):
        store.loyalty.record_purchase(
            customer_id,
            spend,
            source_ref=customer_id,
            occurred_at=AT - timedelta(days=seen_days_ago),
        )
        store.loyalty.evaluate_tier(customer_id, AT, tiers)
        seen = AT - timedelta(days=seen_days_ago)
        store.events.record(
            Event(
                id=f"{customer_id}/visit", name="visit", customer_id=customer_id, occurred_at=seen
            )
        )

    assert {m.customer_id for m in everyone(store, Audience(tier=["gold"]), AT)} == {
        "gold-idle",
        "gold-active",
    }
    idle_gold = everyone(store, Audience(tier=["gold"], inactive=timedelta(days=90)), AT)
    assert [m.customer_id for m in idle_gold] == ["gold-idle"]
    assert idle_gold[0].occasion.startswith("inactive:")
    only_tier = everyone(store, Audience(tier=["gold"]), AT)
    assert {m.occasion for m in only_tier} == {f"scan:{AT.isoformat()}"}

    store.loyalty.score_rfm(AT, RfmRules(), "run-1")
    store.loyalty.apply_rfm_run("run-1")
    segment = store.loyalty.segment_of("member-idle")
    assert segment is not None
    in_segment = everyone(store, Audience(segment=[segment.segment]), AT)
    assert "member-idle" in {m.customer_id for m in in_segment}
    assert all(
        store.loyalty.segment_of(m.customer_id).segment == segment.segment for m in in_segment
    )  # type: ignore[union-attr]


def test_a_claimed_occasion_is_started_once_and_an_unstarted_one_is_returned_again(
    store: Store,
) -> None:
    members = [AudienceMember("a", "2027-02-28"), AudienceMember("b", "2027-02-28")]
    first = store.audiences.claim("birthday", members)
    assert sorted(e.event_id for e in first) == ["birthday/a/2027-02-28", "birthday/b/2027-02-28"]

    store.audiences.mark_started([e.id for e in first if e.customer_id == "a"], AT)  # type: ignore[misc]
    again = store.audiences.claim("birthday", members)
    assert [e.customer_id for e in again] == ["b"]  # a died before being marked: started again

    store.audiences.mark_started([e.id for e in again], AT)  # type: ignore[misc]
    assert store.audiences.claim("birthday", members) == []
    next_year = store.audiences.claim("birthday", [AudienceMember("a", "2028-02-28")])
    assert [e.event_id for e in next_year] == ["birthday/a/2028-02-28"]
