"""Program KPIs on the scripted world of ``tests/kpi_world.py``, on SQLite and PostgreSQL:
every figure is checked against a value worked out by hand (the arithmetic beside it).

The period is [2026-09-01, 2026-12-01): 91 days. lifetime_years = 2, so
CLV = revenue / members x 365.25 / days x 2.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeys.store import Store
from journeys.store.engine import writer_lock
from journeys.store.kpi_figures import KpiFigures, KpiGroup
from journeys.store.kpi_periods import MAX_BUCKETS, KpiInputError, buckets
from tests.kpi_world import PROGRAM, SINCE, UNTIL, build_world


@pytest.fixture
def store(each_database_store: Store) -> Store:
    build_world(each_database_store)
    return each_database_store


def _check(figures: KpiFigures, **expected: Any) -> None:
    got = asdict(figures)
    assert {name: got[name] for name in expected} == expected


def _group(groups: list[KpiGroup], name: str | None) -> KpiFigures:
    (found,) = [g.figures for g in groups if g.group == name]
    return found


def test_the_whole_period(store: Store) -> None:
    report = store.kpis.report(SINCE, UNTIL, program=PROGRAM)

    assert (report.by, report.series, report.groups, report.buckets) == (None, None, [], [])
    _check(
        report.overall,
        members=5,  # a b c f, and d (joined on its 11-20 purchase); not e (12-20)
        active_members=3,  # a b d bought in the period; f bought in July and December
        active_member_ratio=0.6,  # 3 / 5
        purchases=5,  # a 3, b 1, d 1
        revenue=1780.0,  # 100 + 50 + 400 + 30 + 1200
        purchase_frequency=1.6667,  # 5 / 3
        average_order_value=356.0,  # 1780 / 5
        repeat_customers=1,  # a
        repeat_purchase_rate=0.3333,  # 1 / 3
        points_earned=1780,  # 1 point per unit of those purchases
        points_redeemed=320,  # a 120 (09-25) + d 200 (11-25)
        points_expired=410,  # f 350 (09-09) + b 30 (11-10) + a 30 (11-20)
        redemption_rate=0.1798,  # 320 / 1780
        breakage=0.2303,  # 410 / 1780: flows, f's 350 were earned in July
        clv=2857.78,  # 1780 / 5 x 365.25 / 91 x 2 = 356 x 4.01374 x 2
        nps_responses=3,  # latest valid answer each: a 10, b 9, c 3 (d none valid, f later)
        promoters=2,
        detractors=1,
        nps=33.3,  # (2 - 1) / 3 x 100
    )


def test_by_tier_is_the_tier_held_at_the_end_of_the_period(store: Store) -> None:
    report = store.kpis.report(SINCE, UNTIL, by="tier", program=PROGRAM)

    assert [g.group for g in report.groups] == ["member", "silver", "gold", "platinum"]
    # member: b (30 spent), c (never evaluated: the lowest tier)
    _check(
        _group(report.groups, "member"),
        members=2,
        active_members=1,  # b
        active_member_ratio=0.5,
        revenue=30.0,
        average_order_value=30.0,
        repeat_purchase_rate=0.0,  # 0 / 1
        points_earned=30,
        points_expired=30,
        redemption_rate=0.0,  # 0 / 30
        breakage=1.0,  # 30 / 30
        clv=120.41,  # 30 / 2 x 365.25 / 91 x 2
        nps=0.0,  # b 9 promoter, c 3 detractor: (1 - 1) / 2
    )
    # silver: a (upgraded 11-10), f (silver since July; gold on 12-15, after the period)
    _check(
        _group(report.groups, "silver"),
        members=2,
        active_members=1,  # a
        purchases=3,
        revenue=550.0,
        purchase_frequency=3.0,
        average_order_value=183.33,  # 550 / 3
        repeat_purchase_rate=1.0,
        points_earned=550,
        points_redeemed=120,
        points_expired=380,  # a 30 + f 350
        redemption_rate=0.2182,  # 120 / 550
        breakage=0.6909,  # 380 / 550
        clv=2207.55,  # 550 / 2 x 365.25 / 91 x 2
        nps=100.0,  # a's latest: 10
    )
    _check(
        _group(report.groups, "gold"),  # d
        members=1,
        active_member_ratio=1.0,
        average_order_value=1200.0,
        redemption_rate=0.1667,  # 200 / 1200
        breakage=0.0,
        nps_responses=0,
        nps=None,  # d's answers are none valid: no NPS, not 0
    )
    # Nobody: every ratio is a division by zero.
    _check(
        _group(report.groups, "platinum"),
        members=0,
        active_member_ratio=None,
        purchase_frequency=None,
        average_order_value=None,
        repeat_purchase_rate=None,
        redemption_rate=None,
        breakage=None,
        clv=None,
        nps=None,
    )
    assert report.overall == store.kpis.report(SINCE, UNTIL, program=PROGRAM).overall


def test_by_segment_is_the_segment_held_at_the_end_of_the_period(store: Store) -> None:
    """RFM on 11-30 (4 buyers, R by recency, F by count; 1 + 5 x (rank - 1) // 4):
    f (142 days, 1) R1 F1, b (80, 1) R2 F1: Hibernating; a (19, 3) R3 F4: Loyal;
    d (9, 1) R4 F1: Promising. On 12-20: a At Risk, d About To Sleep, f Potential
    Loyalists, after the period. c was never scored: no segment."""
    report = store.kpis.report(SINCE, UNTIL, by="segment", program=PROGRAM)

    names = [g.group for g in report.groups]
    assert names[:2] == ["Champions", "Potential Loyalists"] and names[-1] is None
    assert len(names) == 11
    _check(
        _group(report.groups, "Loyal"),  # a
        members=1,
        purchases=3,
        revenue=550.0,
        points_expired=30,
        breakage=0.0545,  # 30 / 550
        clv=4415.11,  # 550 / 1 x 365.25 / 91 x 2
        nps=100.0,
    )
    _check(
        _group(report.groups, "Hibernating"),  # b, f
        members=2,
        active_members=1,
        revenue=30.0,
        points_expired=380,  # b 30 + f 350
        breakage=12.6667,  # 380 / 30: expired in the period, earned before it
        nps=100.0,  # b's latest, 9 (f's answer is after the period)
    )
    _check(_group(report.groups, "Promising"), members=1, revenue=1200.0)  # d
    _check(_group(report.groups, "At Risk"), members=0, active_member_ratio=None)
    _check(
        _group(report.groups, None),  # c
        members=1,
        active_members=0,
        active_member_ratio=0.0,
        purchase_frequency=None,
        clv=0.0,  # 0 revenue / 1 member
        nps=-100.0,  # c 3
    )


def test_a_monthly_series_has_a_full_set_of_figures_per_month(store: Store) -> None:
    report = store.kpis.report(SINCE, UNTIL, series="month", program=PROGRAM)

    september, october, november = report.buckets
    assert [(b.since.day, b.since.month, b.until.month) for b in report.buckets] == [
        (1, 9, 10),
        (1, 10, 11),
        (1, 11, 12),
    ]
    _check(
        september.overall,
        members=4,  # a b c f (d joins in November)
        active_members=2,  # a (100, 50), b (30)
        active_member_ratio=0.5,
        purchases=3,
        revenue=180.0,
        purchase_frequency=1.5,  # 3 / 2
        average_order_value=60.0,  # 180 / 3
        repeat_purchase_rate=0.5,  # a / (a, b)
        points_earned=180,
        points_redeemed=120,
        points_expired=350,  # f's July points
        redemption_rate=0.6667,  # 120 / 180
        breakage=1.9444,  # 350 / 180
        clv=1095.75,  # 180 / 4 x 365.25 / 30 x 2
        nps_responses=2,
        nps=-100.0,  # a 6 and c 3: two detractors
    )
    # Nothing happened in October: counts are 0, ratios over them none, CLV 0 revenue.
    _check(
        october.overall,
        members=4,
        active_members=0,
        active_member_ratio=0.0,  # 0 / 4
        purchases=0,
        purchase_frequency=None,
        average_order_value=None,
        repeat_purchase_rate=None,
        points_earned=0,
        redemption_rate=None,
        breakage=None,
        clv=0.0,
        nps_responses=0,
        nps=None,
    )
    _check(
        november.overall,
        members=5,
        active_members=2,  # a (400), d (1200)
        active_member_ratio=0.4,
        purchases=2,
        revenue=1600.0,
        average_order_value=800.0,
        repeat_purchase_rate=0.0,
        points_earned=1600,
        points_redeemed=200,
        points_expired=60,  # b 30 (11-10), a 30 (11-20)
        redemption_rate=0.125,
        breakage=0.0375,  # 60 / 1600
        clv=7792.0,  # 1600 / 5 x 365.25 / 30 x 2
        nps_responses=2,  # a 10; b answered 8 then 9: only the latest counts
        promoters=2,
        nps=100.0,
    )
    # The whole period is not the sum of its months where customers repeat across them.
    assert report.overall.active_members == 3 != 2 + 0 + 2
    assert report.overall == store.kpis.report(SINCE, UNTIL, program=PROGRAM).overall


def test_a_series_by_tier_groups_every_bucket_the_same_way(store: Store) -> None:
    report = store.kpis.report(SINCE, UNTIL, by="tier", series="month", program=PROGRAM)

    september = report.buckets[0]
    _check(_group(september.groups, "silver"), members=2, revenue=150.0, points_expired=350)
    _check(_group(september.groups, "gold"), members=0, active_member_ratio=None)
    _check(_group(report.buckets[2].groups, "gold"), members=1, revenue=1200.0)
    # The whole period's groups are those of a report without a series.
    assert report.groups == store.kpis.report(SINCE, UNTIL, by="tier", program=PROGRAM).groups


def test_weeks_and_days_are_utc_calendar_units_clipped_to_the_period() -> None:
    wednesday = datetime(2026, 11, 4, 15, tzinfo=UTC)
    weeks = buckets(wednesday, datetime(2026, 11, 17, tzinfo=UTC), "week")
    assert [(b.key, b.since.day, b.until.day) for b in weeks] == [
        ("2026-11-02", 4, 9),  # the week of Monday 2 November, from Wednesday 15:00
        ("2026-11-09", 9, 16),
        ("2026-11-16", 16, 17),
    ]
    days = buckets(datetime(2026, 12, 31, 22, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), "day")
    assert [b.key for b in days] == ["2026-12-31", "2027-01-01"]
    months = buckets(datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC), "month")
    assert [b.key for b in months] == ["2026-12-01", "2027-01-01"]


def test_weekly_and_daily_buckets_file_each_row_where_it_happened(store: Store) -> None:
    weekly = store.kpis.report(SINCE, UNTIL, series="week", program=PROGRAM)
    by_week = {b.since.date().isoformat(): b.overall for b in weekly.buckets}
    assert by_week["2026-09-01"].revenue == 100.0  # Tuesday 1 to Monday 7: a's 09-05
    assert by_week["2026-11-09"].revenue == 400.0  # a's 11-10
    assert by_week["2026-11-09"].points_expired == 30  # b's, at 11-10 00:00
    assert sum(b.overall.purchases for b in weekly.buckets) == 5
    daily = store.kpis.report(SINCE, UNTIL, series="day", program=PROGRAM)
    assert len(daily.buckets) == 91
    by_day = {b.since.date().isoformat(): b.overall for b in daily.buckets}
    assert (by_day["2026-11-28"].nps, by_day["2026-11-12"].nps) == (100.0, 0.0)  # b 9, b 8
    assert by_day["2026-11-20"].points_expired == 30 and by_day["2026-11-20"].members == 5


def test_a_period_with_nothing_in_it_gives_no_ratio(each_database_store: Store) -> None:
    report = each_database_store.kpis.report(SINCE, UNTIL, by="tier")
    _check(
        report.overall,
        members=0,
        active_member_ratio=None,
        average_order_value=None,
        clv=None,
        nps=None,
    )


@pytest.mark.parametrize(
    ("since", "until", "options", "field"),
    [
        (UNTIL, SINCE, {}, "until"),
        (SINCE, SINCE, {}, "until"),
        (SINCE, UNTIL.replace(tzinfo=None), {}, "until"),
        (SINCE, UNTIL, {"by": "city"}, "by"),
        (SINCE, UNTIL, {"series": "hour"}, "series"),
        (datetime(2000, 1, 1, tzinfo=UTC), UNTIL, {"series": "day"}, "series"),
    ],
)
def test_a_bad_period_names_the_parameter(
    each_database_store: Store,
    since: datetime,
    until: datetime,
    options: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(KpiInputError) as refused:
        each_database_store.kpis.report(since, until, **options)
    assert refused.value.field == field


def test_the_series_bound_is_a_thousand_buckets() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert len(buckets(start, start + timedelta(days=MAX_BUCKETS), "day")) == MAX_BUCKETS
    with pytest.raises(KpiInputError):
        buckets(start, start + timedelta(days=MAX_BUCKETS, seconds=1), "day")


def test_a_report_does_not_queue_on_the_sqlite_writer_lock(sqlite_store: Store) -> None:
    """A report of seconds must not hold up the journeys' writes in the process: it reads
    beside them (WAL). With the writer lock held here, the report still finishes."""
    build_world(sqlite_store)
    done: list[int] = []

    def report() -> None:
        done.append(sqlite_store.kpis.report(SINCE, UNTIL, program=PROGRAM).overall.members)

    with writer_lock(sqlite_store.engine):
        reader = threading.Thread(target=report, daemon=True)
        reader.start()
        reader.join(timeout=60)  # queued on the lock, it would wait for as long as held
    assert done == [5]
