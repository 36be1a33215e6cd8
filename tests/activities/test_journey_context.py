"""Conditions, wait_until, updates and entries, in a real activity context over SQLite.

Dates in 2026: Europe springs forward on 29 March and falls back on 25 October; the United
States on 8 March and 1 November; Japan has no DST.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.journey_context import JourneyContextActivities
from journeys.model.contracts import (
    ConditionRequest,
    EntryRequest,
    JourneyContext,
    UpdateRequest,
    WaitUntilRequest,
)
from journeys.model.events import Event
from journeys.rendering.templating import Expressions
from journeys.store import Store


class KeyedUpdateRequest(UpdateRequest):
    """``UpdateRequest`` with the idempotency key the workflow passes (``key: str = ""``)."""

    key: str = ""


class UnitWaitUntilRequest(WaitUntilRequest):
    """``WaitUntilRequest`` with the offset's unit kind, as the workflow passes it."""

    calendar_offset: bool | None = None


ZONES = {"paris": "Europe/Paris", "la": "America/Los_Angeles", "tokyo": "Asia/Tokyo"}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NOW = utc(2026, 2, 1, 12)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    for customer_id, zone in ZONES.items():
        store.customers.upsert(
            customer_id,
            time_zone=zone,
            phone="+33600000000",
            consent={"sms": True},
            attributes={"first_name": "Ana", "points": 250, "points_expire_on": "2026-04-10"},
        )
    return store


@pytest.fixture
def journey(store: Store) -> JourneyContextActivities:
    return JourneyContextActivities(store, Expressions())


def context(customer_id: str, now: datetime, **properties: Any) -> JourneyContext:
    event = Event(
        id="ev1",
        name="cart.updated",
        customer_id=customer_id,
        properties=properties,
        occurred_at=now,
    )
    return JourneyContext(customer_id=customer_id, event=event, now=now)


async def wait_until(
    journey: JourneyContextActivities,
    customer_id: str,
    now: datetime,
    time: str | None = None,
    at: str | None = None,
    offset: timedelta | None = None,
) -> datetime:
    request = WaitUntilRequest(time=time, at=at, offset=offset, context=context(customer_id, now))
    return await ActivityEnvironment().run(journey.resolve_wait_until, request)


@pytest.mark.parametrize(
    ("customer_id", "now", "time", "expected"),
    [
        # Paris, winter: 11:00 local now; 09:00 is tomorrow, 12:00 is today.
        ("paris", utc(2026, 1, 15, 10), "09:00", utc(2026, 1, 16, 8)),
        ("paris", utc(2026, 1, 15, 10), "12:00", utc(2026, 1, 15, 11)),
        # The night clocks go forward: 09:00 CEST is 07:00 UTC, not 08:00.
        ("paris", utc(2026, 3, 28, 12), "09:00", utc(2026, 3, 29, 7)),
        # 02:30 does not exist that night: it lands just after the jump, 03:30 CEST.
        ("paris", utc(2026, 3, 28, 12), "02:30", utc(2026, 3, 29, 1, 30)),
        # The night clocks go back: 09:00 CET is 08:00 UTC again.
        ("paris", utc(2026, 10, 24, 12), "09:00", utc(2026, 10, 25, 8)),
        # Los Angeles: 12:00 PST now; 09:00 on DST day is PDT (UTC-7).
        ("la", utc(2026, 3, 7, 20), "09:00", utc(2026, 3, 8, 16)),
        # 01:30 happens twice on 1 November: the first one (PDT) counts.
        ("la", utc(2026, 10, 31, 20), "01:30", utc(2026, 11, 1, 8, 30)),
        # Tokyo: 19:00 JST now.
        ("tokyo", utc(2026, 1, 15, 10), "09:00", utc(2026, 1, 16, 0)),
        ("tokyo", utc(2026, 1, 15, 10), "20:00", utc(2026, 1, 15, 11)),
        # Strictly after now: at exactly 09:00 JST, the next 09:00 is tomorrow.
        ("tokyo", utc(2026, 1, 15, 0), "09:00", utc(2026, 1, 16, 0)),
    ],
)
async def test_time_of_day_is_the_next_local_occurrence(
    journey: JourneyContextActivities,
    customer_id: str,
    now: datetime,
    time: str,
    expected: datetime,
) -> None:
    moment = await wait_until(journey, customer_id, now, time=time)
    assert moment == expected and moment.tzinfo == UTC


async def test_at_date_with_time_and_offset_keeps_the_local_time_across_dst(
    journey: JourneyContextActivities,
) -> None:
    # 30 days before 10 April (CEST) at 10:00 is 11 March at 10:00 CET = 09:00 UTC.
    moment = await wait_until(
        journey,
        "paris",
        utc(2026, 1, 15, 10),
        time="10:00",
        at="customer.points_expire_on",
        offset=timedelta(days=-30),
    )
    assert moment == utc(2026, 3, 11, 9)


@pytest.mark.parametrize(
    ("offset", "calendar", "expected"),
    [
        # 10:00 CET on 28 March; clocks go forward on the 29th.
        (timedelta(days=2), True, utc(2026, 3, 30, 8)),  # 2d: 10:00 CEST, 47 real hours
        (timedelta(hours=48), False, utc(2026, 3, 30, 9)),  # 48h: 48 real hours, 11:00 CEST
        (timedelta(hours=30), None, utc(2026, 3, 29, 15)),  # not whole days: elapsed
        (timedelta(days=2), None, utc(2026, 3, 30, 8)),  # no unit given: whole days
    ],
)
async def test_offsets_in_days_follow_the_calendar_and_in_hours_the_clock(
    journey: JourneyContextActivities,
    offset: timedelta,
    calendar: bool | None,
    expected: datetime,
) -> None:
    fields: dict[str, Any] = {"at": "'2026-03-28T10:00:00'", "offset": offset}
    if calendar is not None:
        fields["calendar_offset"] = calendar
    request = UnitWaitUntilRequest(context=context("paris", NOW), **fields)
    assert await ActivityEnvironment().run(journey.resolve_wait_until, request) == expected


@pytest.mark.parametrize(
    ("customer_id", "at", "offset", "expected"),
    [
        # An aware moment (the trigger event's time) plus two real hours.
        ("paris", "event.occurred_at", timedelta(hours=2), utc(2026, 3, 29, 2, 30)),
        # Naive ISO text is local time: 09:00 in Tokyo.
        ("tokyo", "'2026-05-01T09:00:00'", None, utc(2026, 5, 1, 0)),
        # A bare date means the start of that local day.
        ("paris", "'2026-07-14'", None, utc(2026, 7, 13, 22)),
        ("la", "'2026-05-01T09:00:00+02:00'", timedelta(days=1), utc(2026, 5, 2, 7)),
    ],
)
async def test_at_expression_values(
    journey: JourneyContextActivities,
    customer_id: str,
    at: str,
    offset: timedelta | None,
    expected: datetime,
) -> None:
    now = utc(2026, 3, 29, 0, 30)
    assert await wait_until(journey, customer_id, now, at=at, offset=offset) == expected


async def test_at_and_time_take_the_local_date_of_the_moment(
    journey: JourneyContextActivities,
) -> None:
    # 07:00 UTC on 1 May is 00:00 on 1 May in Los Angeles: 18:00 that day is 01:00 UTC.
    moment = await wait_until(
        journey, "la", utc(2026, 4, 1), time="18:00", at="'2026-05-01T09:00:00+02:00'"
    )
    assert moment == utc(2026, 5, 2, 1)


@pytest.mark.parametrize("at", ["customer.first_name", "customer.no_such_attribute", "1 +"])
async def test_a_bad_at_expression_fails_for_good(
    journey: JourneyContextActivities, at: str
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await wait_until(journey, "paris", utc(2026, 1, 1), at=at)
    assert failure.value.non_retryable


async def test_conditions_read_the_fresh_customer_and_the_event(
    journey: JourneyContextActivities, store: Store
) -> None:
    expression = "customer.consent.sms and event.cart_total >= 100"
    env = ActivityEnvironment()

    async def check(customer_id: str, total: float) -> bool:
        request = ConditionRequest(
            expression=expression, context=context(customer_id, utc(2026, 1, 1), cart_total=total)
        )
        return await env.run(journey.evaluate_condition, request)

    assert await check("paris", 129.9) is True
    assert await check("paris", 20) is False
    store.customers.upsert("paris", consent={"sms": False})
    assert await check("paris", 129.9) is False
    assert await check("unknown-customer", 129.9) is False  # no consent at all
    with pytest.raises(ApplicationError) as failure:
        await env.run(
            journey.evaluate_condition,
            ConditionRequest(expression="event.missing > 1", context=context("paris", NOW)),
        )
    assert failure.value.non_retryable and "event.missing" in failure.value.message


async def test_update_evaluates_wrapped_expressions_and_stores_the_rest(
    journey: JourneyContextActivities, store: Store
) -> None:
    values = {
        "points": "{{ customer.points + event.bonus }}",
        "tier": "gold",
        "greeting": "Hi {{ customer.first_name }}",  # not wholly an expression: kept as text
        "upgraded_at": "{{ now }}",
        "locale": "fr",  # a profile field: goes to its column
    }
    request = UpdateRequest(values=values, context=context("paris", NOW, bonus=100))
    applied = await ActivityEnvironment().run(journey.update_customer, request)
    assert applied == {
        "points": 350,
        "tier": "gold",
        "greeting": "Hi {{ customer.first_name }}",
        "upgraded_at": "2026-02-01T12:00:00Z",
        "locale": "fr",
    }
    customer = store.customers.get("paris")
    assert customer is not None
    assert {key: customer[key] for key in applied} == applied


async def test_update_creates_a_missing_customer_and_rejects_bad_values(
    journey: JourneyContextActivities, store: Store
) -> None:
    env = ActivityEnvironment()
    request = UpdateRequest(values={"vip": True}, context=context("newcomer", NOW))
    assert await env.run(journey.update_customer, request) == {"vip": True}
    assert (store.customers.get("newcomer") or {})["vip"] is True
    for values in ({"id": "other"}, {"points": "{{ customer.nope + 1 }}"}):
        with pytest.raises(ApplicationError) as failure:
            await env.run(
                journey.update_customer, UpdateRequest(values=values, context=context("paris", NOW))
            )
        assert failure.value.non_retryable


async def test_a_keyed_update_is_applied_once(
    journey: JourneyContextActivities, store: Store
) -> None:
    """A local activity can run twice: the retry must not award the points again."""
    env = ActivityEnvironment()
    values = {"points": "{{ customer.points + 100 }}", "awarded_at": "{{ now }}"}
    request = KeyedUpdateRequest(
        values=values, context=context("paris", NOW), key="journey/x/paris/e1/award"
    )
    first = await env.run(journey.update_customer, request)
    later = request.model_copy(update={"context": context("paris", utc(2026, 2, 2))})
    again = await env.run(journey.update_customer, later)
    assert first == again == {"points": 350, "awarded_at": "2026-02-01T12:00:00Z"}
    assert (store.customers.get("paris") or {})["points"] == 350
    # Another entry (another key) is another award; no key behaves as before.
    other = request.model_copy(update={"key": "journey/x/paris/e2/award"})
    assert (await env.run(journey.update_customer, other))["points"] == 450
    unkeyed = UpdateRequest(values=values, context=context("paris", NOW))
    assert (await env.run(journey.update_customer, unkeyed))["points"] == 550
    assert (await env.run(journey.update_customer, unkeyed))["points"] == 650


def entry(entry_id: str, policy: str = "once", scenario_id: str = "welcome") -> EntryRequest:
    return EntryRequest.model_validate(
        {
            "workflow_id": f"journey/{scenario_id}/paris",
            "scenario_id": scenario_id,
            "customer_id": "paris",
            "entry_id": entry_id,
            "policy": policy,
            "now": NOW,
        }
    )


async def test_record_entry_once_and_idempotent(
    journey: JourneyContextActivities, store: Store
) -> None:
    env = ActivityEnvironment()
    assert await env.run(journey.record_entry, entry("e1")) is True
    assert await env.run(journey.record_entry, entry("e1")) is True  # a retried activity
    assert await env.run(journey.record_entry, entry("e2")) is False
    assert [e.entry_id for e in store.journeys.entries_for("welcome", "paris")] == ["e1"]
    assert store.journeys.entries_for("welcome", "paris")[0].entered_at == NOW
    for entry_id in ("r1", "r2"):
        assert await env.run(journey.record_entry, entry(entry_id, "restart", "cart")) is True
    assert len(store.journeys.entries_for("cart", "paris")) == 2
