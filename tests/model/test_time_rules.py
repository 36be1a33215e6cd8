"""The time rules as pure functions, over every hour of the day, month ends, DST changes and
29 February: points expire at the end of a local day, so a step "on the last day at 10:00"
(or "a week before at 10:00") always finds them still there, whatever hour they were earned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.loyalty.program import Expiry, last_local_day
from journeys.model.local_time import local_moment, next_local_time, shift, to_moment

# Zones with DST at 02:00/03:00 (Paris, Los Angeles), none (Tokyo), a 30-minute DST change
# (Lord Howe), DST at midnight (Santiago, Havana: local midnight is skipped one night a
# year), and a southern hemisphere zone (Sydney).
ZONES = [
    "UTC",
    "Europe/Paris",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Australia/Sydney",
]
RULES = [
    Expiry(after=timedelta(hours=12)),
    Expiry(after=timedelta(days=1)),
    Expiry(after=timedelta(days=7)),
    Expiry(after=timedelta(days=20)),
    Expiry(after=timedelta(days=40)),
    Expiry(after=timedelta(days=365)),
    Expiry(after=timedelta(days=365), until_end_of="month"),
    Expiry(until_end_of="month"),
    Expiry(until_end_of="year"),
]
# Days around which the calendar is awkward: month and year ends, 29 February, DST changes
# (Europe 29 March / 25 October 2026, US 8 March / 1 November 2026, Santiago 5 April and
# 6 September 2026, Sydney 5 April / 4 October 2026).
DAYS = [
    date(2026, 1, 31),
    date(2026, 2, 28),
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 12, 31),
    date(2028, 2, 28),
    date(2028, 2, 29),
]
TEN = time(10, 0)


def check_expiry(rule: Expiry, earned: datetime, zone: ZoneInfo) -> None:
    expires = rule.expires_at(earned, zone)
    assert expires is not None and expires.tzinfo is not None
    last = last_local_day(expires, zone)
    # Gone at the first instant of the day after the last day: never mid-day.
    assert expires == local_moment(last + timedelta(days=1), time(0), zone)
    assert expires > earned
    # Never earlier than the rule says: the period ends on the last day, or before it.
    assert last >= (earned + (rule.after or timedelta(0))).astimezone(zone).date()
    if rule.until_end_of == "month":
        assert (last + timedelta(days=1)).day == 1
    if rule.until_end_of == "year":
        assert (last.month, last.day) == (12, 31)
    # What the points-expiry scenario asks for: 10:00 on the last day and a week before.
    last_day_morning = to_moment(last.isoformat(), zone, TEN)
    assert last_day_morning < expires
    assert shift(last_day_morning, timedelta(days=-7), zone, calendar=True) < expires
    # The audience passes expires_on as text; it comes back as the same local day.
    assert to_moment(last.isoformat(), zone).astimezone(zone).date() == last


@pytest.mark.parametrize("zone_name", ZONES)
def test_points_expire_at_the_end_of_a_local_day_whatever_hour_they_were_earned(
    zone_name: str,
) -> None:
    zone = ZoneInfo(zone_name)
    for day in DAYS:
        for hour in range(24):
            for minute in (0, 30, 59):
                earned = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                for rule in RULES:
                    check_expiry(rule, earned.astimezone(UTC), zone)


@settings(max_examples=500, deadline=None)
@given(
    earned=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    zone_name=st.sampled_from(ZONES),
    rule=st.sampled_from(RULES),
)
def test_expiry_rules_hold_for_any_instant(earned: datetime, zone_name: str, rule: Expiry) -> None:
    check_expiry(rule, earned, ZoneInfo(zone_name))


def test_a_day_based_period_keeps_the_points_through_its_last_local_day() -> None:
    paris = ZoneInfo("Europe/Paris")
    rule = Expiry(after=timedelta(days=20))
    for hour in range(24):  # 3 March 2026, any hour in Paris: usable through 23 March
        earned = datetime(2026, 3, 3, hour, tzinfo=paris)
        expires = rule.expires_at(earned, paris)
        assert expires == datetime(2026, 3, 24, tzinfo=paris).astimezone(UTC), hour
        assert last_local_day(expires, paris) == date(2026, 3, 23)


def test_end_of_month_after_29_february_and_across_dst() -> None:
    paris = ZoneInfo("Europe/Paris")
    month = Expiry(until_end_of="month")
    leap = month.expires_at(datetime(2028, 2, 29, 23, 30, tzinfo=paris), paris)
    assert leap == datetime(2028, 3, 1, tzinfo=paris).astimezone(UTC)
    # A year after 29 February 2028 is 28 February 2029 (365 days), end of that month.
    yearly = Expiry(after=timedelta(days=365), until_end_of="month")
    a_year_on = yearly.expires_at(datetime(2028, 2, 29, 12, tzinfo=UTC), paris)
    assert a_year_on is not None and last_local_day(a_year_on, paris) == date(2029, 2, 28)
    # March ends in summer time: midnight is 22:00 UTC, not 23:00.
    march = month.expires_at(datetime(2026, 3, 15, 12, tzinfo=UTC), paris)
    assert march == datetime(2026, 3, 31, 22, tzinfo=UTC)


def test_a_skipped_local_midnight_expires_at_the_first_instant_of_the_day() -> None:
    santiago = ZoneInfo("America/Santiago")  # 6 September 2026: 00:00 jumps to 01:00
    rule = Expiry(after=timedelta(days=1))
    expires = rule.expires_at(datetime(2026, 9, 4, 15, tzinfo=santiago), santiago)
    assert expires.astimezone(santiago).replace(tzinfo=None) == datetime(2026, 9, 6, 1, 0)
    assert last_local_day(expires, santiago) == date(2026, 9, 5)


@pytest.mark.parametrize("zone_name", ZONES)
def test_next_local_time_is_the_next_wall_clock_match_from_every_hour(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    for day in DAYS:
        for hour in range(24):
            now = datetime(day.year, day.month, day.day, hour, 15, tzinfo=zone).astimezone(UTC)
            nine = next_local_time(now, time(9, 0), zone)
            assert now < nine <= now + timedelta(days=1, hours=2)
            local = nine.astimezone(zone)
            # 09:00 exists every day in these zones (no DST change happens at 09:00).
            assert (local.hour, local.minute) == (9, 0)
            assert nine - timedelta(days=1) <= now or local.date() > now.astimezone(zone).date()
