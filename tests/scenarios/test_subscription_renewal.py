"""Subscription renewal, end to end: the daily scan picks a customer whose ``renews_on`` is
14 days ahead in their own zone, once per renewal however often it runs; the reminder goes
at 10:00 local 14 days before and the last call at 10:00 three days before, unless the
renewal date changed meanwhile.

The scan runs as of ``at``, days ahead of the server's clock (journeys run on it), so the
reminder's morning is always still to come, whatever the hour the suite runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.service import RPCError, RPCStatusCode

from journeys.app.driver import JourneyDriver, eventually

RENEWAL = "subscription-renewal"
PARIS = ZoneInfo("Europe/Paris")


def renewal_in_14_days(at: datetime) -> str:
    return (at.astimezone(PARIS).date() + timedelta(days=14)).isoformat()


def at_ten(day: str, days_before: int) -> datetime:
    date = datetime.fromisoformat(day).date() - timedelta(days=days_before)
    return datetime.combine(date, time(10), PARIS)


def sent_at(journeys: JourneyDriver, customer: str) -> list[tuple[str, datetime]]:
    messages = journeys.store.outbox.for_customer(customer)
    assert all(m.journey_time is not None for m in messages)
    return [
        (m.step_id, m.journey_time.astimezone(PARIS).replace(second=0, microsecond=0))  # type: ignore[union-attr]
        for m in messages
    ]


async def _exists(journeys: JourneyDriver, customer: str) -> bool:
    try:
        await journeys.handle(RENEWAL, customer).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND, err
        return False
    return True


async def test_reminded_14_and_3_days_before_once_per_renewal(journeys: JourneyDriver) -> None:
    at = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=2)
    renews_on = renewal_in_14_days(at)
    customer = journeys.customer(
        "renew", time_zone="Europe/Paris", locale="fr", renews_on=renews_on, subscription="active"
    )
    later = journeys.customer(
        "renew",
        time_zone="Europe/Paris",
        renews_on=renewal_in_14_days(at + timedelta(days=1)),  # 15 days ahead
        subscription="active",
    )
    cancelled = journeys.customer(
        "renew", time_zone="Europe/Paris", renews_on=renews_on, subscription="cancelled"
    )

    for moment in (at, at + timedelta(hours=1), at + timedelta(hours=5)):  # the same day
        await journeys.scan(RENEWAL, moment)

    state = await journeys.finish(RENEWAL, customer)
    assert state.status == "completed" and state.entries == 1
    assert sent_at(journeys, customer) == [
        ("reminder", at_ten(renews_on, 14)),
        ("last-call", at_ten(renews_on, 3)),
    ]
    reminder = journeys.store.outbox.for_customer(customer)[0]
    written = datetime.fromisoformat(renews_on).date()
    assert f"le {written.day}" in reminder.subject  # the date the French way
    assert not await _exists(journeys, later)
    assert not await _exists(journeys, cancelled)


async def test_no_last_call_once_the_renewal_date_has_changed(journeys: JourneyDriver) -> None:
    at = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=3)
    renews_on = renewal_in_14_days(at)
    customer = journeys.customer(
        "renew", time_zone="Europe/Paris", renews_on=renews_on, subscription="active"
    )
    await journeys.scan(RENEWAL, at)
    parked = await journeys.idle(RENEWAL, customer)
    assert parked.waiting_until is not None
    handle = journeys.handle(RENEWAL, customer)
    now = await journeys.clock.get_current_time(handle)
    await journeys.advance(RENEWAL, customer, parked.waiting_until - now + timedelta(minutes=1))

    async def reminded() -> None:
        assert [step for step, _ in sent_at(journeys, customer)] == ["reminder"]

    await eventually(reminded)
    # Renewed early: next year's date. The last call for this renewal is not sent.
    next_year = (datetime.fromisoformat(renews_on) + timedelta(days=365)).date().isoformat()
    journeys.store.customers.upsert(customer, attributes={"renews_on": next_year})

    state = await journeys.finish(RENEWAL, customer)
    assert state.status == "completed"
    assert [step for step, _ in sent_at(journeys, customer)] == ["reminder"]
