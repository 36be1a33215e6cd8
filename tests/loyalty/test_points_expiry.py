"""Points expiry, end to end: the 30-day notice from the daily scan, then the reminders a
week before and on the last day, only while those points are still there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from journeys.app.driver import JourneyDriver
from journeys.loyalty.program import Expiry, LoyaltyProgram, PointsRules
from journeys.rendering.locale_format import local_date, number

REPO = Path(__file__).resolve().parents[2]
EXPIRY = "points-expiry"
FORTY_DAYS = PointsRules(expiry=Expiry(after=timedelta(days=40)))
PARIS = ZoneInfo("Europe/Paris")


def wallet(
    journeys: JourneyDriver, points: int, earned: datetime | None = None, **profile: object
) -> tuple[str, datetime]:
    """A customer holding ``points`` earned at ``earned`` (default now) that expire 40 days
    later, at the end of that day in Paris; returns (id, earned at)."""
    customer = journeys.customer("expiry", time_zone="Europe/Paris", **profile)
    earned = earned or datetime.now(UTC)
    journeys.store.points.earn(
        customer, points, source_ref=f"{customer}/b", reason="purchase", at=earned, rules=FORTY_DAYS
    )
    return customer, earned


async def test_every_earning_hour_gets_both_reminders_while_the_points_exist(
    journeys: JourneyDriver,
) -> None:
    """Points earned at any of the 24 hours of a Paris day: the reminders at 10:00 a week
    before and on the last day always come before the points are gone (they expire at the
    end of a local day), so the outcome never depends on the hour the suite runs."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    wallets = [wallet(journeys, 100, now - timedelta(hours=hours)) for hours in range(24)]
    assert {earned.astimezone(PARIS).hour for _, earned in wallets} == set(range(24))

    await journeys.scan(EXPIRY, now + timedelta(days=12))  # 28 to 29 days left for all
    await asyncio.gather(*(journeys.finish(EXPIRY, customer) for customer, _ in wallets))

    for customer, earned in wallets:
        assert [step for step, _ in journeys.sent(customer)] == ["notice", "reminder", "last-day"]
        [lot] = journeys.store.points.lots(customer)
        last_day = journeys.store.outbox.for_customer(customer)[-1].journey_time
        assert last_day is not None and lot.expires_at is not None
        assert last_day < lot.expires_at, earned


async def test_redeeming_after_the_notice_cancels_the_reminders(journeys: JourneyDriver) -> None:
    customer, now = wallet(journeys, 500)

    progress = await journeys.scan(EXPIRY, now + timedelta(days=12))  # 28 days left
    assert progress.started >= 1
    await journeys.idle(EXPIRY, customer)  # the notice is out; waiting for the week before
    assert journeys.sent(customer) == [("notice", "email")]

    journeys.store.points.redeem(customer, 500, source_ref="order-1", reason="order", at=now)

    state = await journeys.finish(EXPIRY, customer)
    assert state.status == "completed"
    assert journeys.sent(customer) == [("notice", "email")]


async def test_partial_redemption_shows_what_is_left_in_the_customer_locale(
    journeys: JourneyDriver,
) -> None:
    customer, now = wallet(journeys, 1500, locale="fr", first_name="Léa")
    expires_on = (now + timedelta(days=40)).astimezone(PARIS).date()  # the last day

    await journeys.scan(EXPIRY, now + timedelta(days=12))
    await journeys.idle(EXPIRY, customer)
    journeys.store.points.redeem(customer, 200, source_ref="order-1", reason="order", at=now)
    await journeys.finish(EXPIRY, customer)

    notice, reminder, last_day = journeys.store.outbox.for_customer(customer)
    assert [m.step_id for m in (notice, reminder, last_day)] == [
        "notice",
        "reminder",
        "last-day",
    ]
    assert number(1500, "fr") in notice.subject  # "1 500", as French writes it
    for message in (reminder, last_day):
        assert number(1300, "fr") in message.subject
        assert local_date(expires_on, "fr") in message.text  # "… janvier 2027"
        assert message.locale == "fr"
    paris_reminder = reminder.journey_time.astimezone(PARIS)  # type: ignore[union-attr]
    # A week before the last day, then on the last day, at 10:00 Paris time.
    assert (paris_reminder.hour, (expires_on - paris_reminder.date()).days) == (10, 7)
    paris_last_day = last_day.journey_time.astimezone(PARIS)  # type: ignore[union-attr]
    assert (paris_last_day.hour, paris_last_day.date()) == (10, expires_on)


async def test_points_expiring_at_the_end_of_a_month_get_their_reminders_in_that_month(
    journeys: JourneyDriver,
) -> None:
    """The shipped rule (a year, then the end of that month): the last day is the month's."""
    customer = journeys.customer("expiry", time_zone="Europe/Paris")
    now = datetime.now(UTC)
    lot = journeys.store.points.earn(
        customer,
        400,
        source_ref=f"{customer}/buy",
        reason="purchase",
        at=now,
        rules=LoyaltyProgram.load(REPO / "loyalty.yaml").points,
    )
    assert lot.expires_at is not None
    last_day = (lot.expires_at - timedelta(microseconds=1)).astimezone(PARIS).date()
    assert (last_day + timedelta(days=1)).day == 1  # the month's last day

    await journeys.scan(EXPIRY, lot.expires_at - timedelta(days=20))
    await journeys.finish(EXPIRY, customer)

    sent = {
        m.step_id: m.journey_time.astimezone(PARIS)
        for m in journeys.store.outbox.for_customer(customer)
    }  # type: ignore[union-attr]
    assert set(sent) == {"notice", "reminder", "last-day"}
    assert (sent["reminder"].date(), sent["reminder"].hour) == (last_day - timedelta(days=7), 10)
    assert (sent["last-day"].date(), sent["last-day"].hour) == (last_day, 10)


async def test_a_second_scan_does_not_notify_twice(journeys: JourneyDriver) -> None:
    customer, now = wallet(journeys, 300)
    await journeys.scan(EXPIRY, now + timedelta(days=12))
    await journeys.idle(EXPIRY, customer)
    again = await journeys.scan(EXPIRY, now + timedelta(days=13))

    assert again.members >= 1  # the customer is still in the audience...
    await journeys.idle(EXPIRY, customer)
    assert journeys.sent(customer) == [("notice", "email")]  # ...but the occasion was taken
