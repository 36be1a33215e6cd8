"""Birthday, end to end: the hourly audience scan, the customer's own time zone and
morning, once per year, 29 February, and push when email is not allowed.

The scan runs as of a chosen moment ``at`` (as a schedule would at that moment); each
journey then waits on its own virtual clock for 09:00 local on the birthday.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.service import RPCError, RPCStatusCode

from journeys.app.driver import JourneyDriver

BIRTHDAY = "birthday"
ZONES = ("Europe/Paris", "America/Los_Angeles", "Asia/Tokyo")


def local_date(at: datetime, zone: str) -> date:
    return at.astimezone(ZoneInfo(zone)).date()


def born_on(day: date, year: int = 1990) -> str:
    return day.replace(year=year).isoformat()


def next_common_year_with_28_february_ahead(now: datetime) -> int:
    """The first year without 29 February whose 28 February is still days ahead of ``now``
    (journeys run on the server's real clock), so the test means the same on any date."""
    year = now.year
    while calendar.isleap(year) or datetime(year, 2, 27, tzinfo=UTC) <= now:
        year += 1
    return year


async def test_each_zone_is_greeted_on_its_local_birthday_morning(journeys: JourneyDriver) -> None:
    # 20:00 UTC: already tomorrow in Tokyo, still today in Paris and Los Angeles.
    at = datetime.now(UTC).replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=2)
    customers = {
        zone: journeys.customer(
            "bday", time_zone=zone, birthday=born_on(local_date(at, zone)), first_name="Ana"
        )
        for zone in ZONES
    }
    # Born on Paris's date but living in Tokyo, where that date is already over.
    elsewhere = journeys.customer(
        "bday", time_zone="Asia/Tokyo", birthday=born_on(local_date(at, "Europe/Paris"))
    )

    progress = await journeys.scan(BIRTHDAY, at)

    assert progress.done and progress.started >= len(ZONES)
    for zone, customer in customers.items():
        state = await journeys.finish(BIRTHDAY, customer)
        assert state.status == "completed"
        [greeting] = journeys.store.outbox.for_customer(customer)
        assert greeting.channel == "email" and "Happy birthday" in greeting.subject
        assert greeting.journey_time is not None
        local = greeting.journey_time.astimezone(ZoneInfo(zone))
        assert (local.date(), local.hour, local.minute) == (local_date(at, zone), 9, 0), zone
        assert journeys.store.points.summary(customer, greeting.journey_time)["balance"] == 200
        assert "200 points" in greeting.text
    assert not await _exists(journeys, elsewhere)


async def _exists(journeys: JourneyDriver, customer: str) -> bool:
    try:
        await journeys.handle(BIRTHDAY, customer).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND, err
        return False
    return True


async def test_a_birthday_is_greeted_once_however_often_the_scan_runs(
    journeys: JourneyDriver,
) -> None:
    at = datetime.now(UTC) + timedelta(days=3)
    customer = journeys.customer(
        "bday", time_zone="Europe/Paris", birthday=born_on(local_date(at, "Europe/Paris"))
    )
    await journeys.scan(BIRTHDAY, at)
    await journeys.finish(BIRTHDAY, customer)

    for later in (at + timedelta(hours=1), at + timedelta(hours=2)):
        await journeys.scan(BIRTHDAY, later)

    state = await journeys.finish(BIRTHDAY, customer)
    assert state.entries == 1
    assert len(journeys.store.outbox.for_customer(customer)) == 1
    assert journeys.store.points.summary(customer, at + timedelta(days=1))["balance"] == 200


async def test_29_february_is_celebrated_on_28_february_in_other_years(
    journeys: JourneyDriver,
) -> None:
    leapling = journeys.customer("bday", time_zone="Europe/Paris", birthday="2000-02-29")
    paris = ZoneInfo("Europe/Paris")
    year = next_common_year_with_28_february_ahead(datetime.now(UTC))
    on_28th = datetime(year, 2, 28, 12, tzinfo=paris)  # a year with no 29 February
    on_1st = datetime(year, 3, 1, 12, tzinfo=paris)

    await journeys.scan(BIRTHDAY, on_1st)
    assert not await _exists(journeys, leapling)

    await journeys.scan(BIRTHDAY, on_28th)
    state = await journeys.finish(BIRTHDAY, leapling)
    assert state.status == "completed"
    [greeting] = journeys.store.outbox.for_customer(leapling)
    assert greeting.journey_time is not None
    sent_at = greeting.journey_time.astimezone(paris).replace(second=0, microsecond=0)
    assert sent_at == datetime(year, 2, 28, 9, tzinfo=paris)


async def test_push_when_email_is_not_allowed(journeys: JourneyDriver) -> None:
    at = datetime.now(UTC) + timedelta(days=4)
    customer = journeys.customer(
        "bday",
        time_zone="Asia/Tokyo",
        locale="fr",
        birthday=born_on(local_date(at, "Asia/Tokyo")),
        push_token="device-1",
        consent={"email": False, "push": True},
    )
    await journeys.scan(BIRTHDAY, at)
    await journeys.finish(BIRTHDAY, customer)

    [greeting] = journeys.store.outbox.for_customer(customer)
    assert greeting.channel == "push"
    assert greeting.subject.startswith("Joyeux anniversaire")
