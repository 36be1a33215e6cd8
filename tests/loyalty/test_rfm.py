"""RFM scoring in the store, on SQLite and PostgreSQL: quintiles computed by the database
match the ones worked out by hand, segments follow the standard map, runs are idempotent
and each segment change is reported once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from journeys.loyalty.program import RfmRules
from journeys.loyalty.segments import SEGMENTS, segment_for
from journeys.store import Store
from journeys.store.loyalty import SegmentChange
from journeys.store.loyalty_tables import RfmScore
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


RULES = RfmRules()  # 365 days
T1 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# id: (days since the last purchase, purchases, total spend). Worked out by hand:
# R ranks by recency (r01 most recent ... r10 least), F by count, M by spend; 10
# customers, so each quintile holds two.
CUSTOMERS: dict[str, tuple[int, int, float]] = {
    "r01": (1, 10, 100.37),
    "r02": (3, 1, 1000.37),
    "r03": (10, 3, 200.37),
    "r04": (20, 7, 900.37),
    "r05": (40, 5, 300.37),
    "r06": (60, 2, 800.37),
    "r07": (100, 9, 400.37),
    "r08": (150, 6, 700.37),
    "r09": (200, 4, 500.37),
    "r10": (300, 8, 600.37),
}
# id: (R, F, M, segment)
EXPECTED: dict[str, tuple[int, int, int, str]] = {
    "r01": (5, 5, 1, "Champions"),
    "r02": (5, 1, 5, "New Customers"),
    "r03": (4, 2, 1, "Potential Loyalists"),
    "r04": (4, 4, 5, "Loyal"),
    "r05": (3, 3, 2, "Need Attention"),
    "r06": (3, 1, 4, "About To Sleep"),
    "r07": (2, 5, 2, "Cannot Lose Them"),
    "r08": (2, 3, 4, "At Risk"),
    "r09": (1, 2, 3, "Hibernating"),
    "r10": (1, 4, 3, "At Risk"),
}


def buy(store: Store, customer_id: str, amount: float, at: datetime) -> None:
    ref = f"{customer_id}/{at.isoformat()}/{amount}"
    store.loyalty.record_purchase(customer_id, amount, source_ref=ref, occurred_at=at)


def ten_customers(store: Store) -> None:
    """``CUSTOMERS`` as purchases, plus purchases the T1 scoring must leave out."""
    for customer_id, (days, count, total) in CUSTOMERS.items():
        # 20 hours past the whole days: recency is rounded down, not to the nearest day.
        last = T1 - days * DAY - timedelta(hours=20)
        buy(store, customer_id, round(total - (count - 1), 2), last)
        for k in range(1, count):
            buy(store, customer_id, 1.0, last - k * DAY)
    buy(store, "r01", 10_000, T1 + 2 * DAY)  # after the scorings (T1 and T1 + 1 hour)
    buy(store, "r02", 10_000, T1 - 365 * DAY)  # the window is (at - 365 days, at]
    buy(store, "old", 50, T1 - 400 * DAY)  # not scored at all


def run_rows(store: Store, run_id: str) -> list[RfmScore]:
    with Session(store.engine) as session:
        query = select(RfmScore).where(RfmScore.run_id == run_id)
        return list(session.exec(query.order_by(col(RfmScore.customer_id))).all())


def apply_all(store: Store, run_id: str, limit: int = 4) -> list[SegmentChange]:
    changes, after = [], ""
    while True:
        page, after = store.loyalty.apply_rfm_run(run_id, after=after, limit=limit)
        changes += page
        if not after:
            return changes


# What ``second_run`` changes, worked out by hand.
SECOND_RUN_CHANGES = [
    SegmentChange("r02", "New Customers", "Champions", 5, 5, 5),
    SegmentChange("r03", "Potential Loyalists", "Promising", 4, 1, 1),
    SegmentChange("r04", "Loyal", "Potential Loyalists", 4, 3, 5),
    SegmentChange("r05", "Need Attention", "About To Sleep", 3, 2, 2),
    SegmentChange("r07", "Cannot Lose Them", "At Risk", 2, 4, 2),
]


def second_run(store: Store) -> datetime:
    """Scores "run-2" an hour after T1 (returned), once r02 has bought ten times more: it
    is now the most frequent (and most recent) customer, and every customer it overtakes
    moves down one frequency rank."""
    t2 = T1 + timedelta(hours=1)
    for k in range(10):
        buy(store, "r02", 0.01, T1 + timedelta(minutes=30 + k))
    assert store.loyalty.score_rfm(t2, RULES, "run-2") == 10
    return t2


def test_every_rf_pair_has_exactly_one_segment() -> None:
    for r in range(1, 6):
        for f in range(1, 6):
            assert sum(r in rs and f in fs for _, rs, fs in SEGMENTS) == 1, (r, f)
    assert [segment_for(r, f) for r, f in ((1, 1), (2, 5), (3, 3), (4, 1), (5, 1), (5, 4))] == [
        "Hibernating",
        "Cannot Lose Them",
        "Need Attention",
        "Promising",
        "New Customers",
        "Champions",
    ]


def test_scores_are_the_quintiles_worked_out_by_hand(store: Store) -> None:
    ten_customers(store)

    assert store.loyalty.score_rfm(T1, RULES, "run-1") == 10

    rows = run_rows(store, "run-1")
    assert {row.customer_id: (row.r, row.f, row.m, row.segment) for row in rows} == EXPECTED
    assert {
        row.customer_id: (row.recency_days, row.frequency, row.monetary) for row in rows
    } == CUSTOMERS
    assert {row.computed_at for row in rows} == {T1}


def test_equal_values_share_a_score(store: Store) -> None:
    """Five customers who bought alike score alike (not 1..5 by their ids); one who bought
    more often and more recently stands out."""
    for n in range(1, 6):
        buy(store, f"t{n}", 40, T1 - 2 * DAY)
        buy(store, f"t{n}", 60, T1 - DAY)

    assert store.loyalty.score_rfm(T1, RULES, "ties") == 5

    scores = {
        row.customer_id: (row.r, row.f, row.m, row.segment) for row in run_rows(store, "ties")
    }
    assert scores == {f"t{n}": (1, 1, 1, "Hibernating") for n in range(1, 6)}

    for day in (2, 1, 0):  # the last one today: more recent than the others
        buy(store, "t6", 100, T1 - day * DAY)
    assert store.loyalty.score_rfm(T1, RULES, "ties-2") == 6
    scores = {row.customer_id: (row.r, row.f) for row in run_rows(store, "ties-2")}
    assert scores["t6"] == (5, 5) and {scores[f"t{n}"] for n in range(1, 6)} == {(1, 1)}


def test_the_same_run_twice_writes_nothing(store: Store) -> None:
    ten_customers(store)
    assert store.loyalty.score_rfm(T1, RULES, "run-1") == 10
    buy(store, "late", 30, T1 - DAY)  # would be scored by a new run

    assert store.loyalty.score_rfm(T1, RULES, "run-1") == 0
    assert len(run_rows(store, "run-1")) == 10
    assert store.loyalty.score_rfm(T1, RULES, "run-2") == 11


def test_racing_runs_of_one_run_id_score_once(store: Store) -> None:
    ten_customers(store)
    results = concurrently(4, lambda _: store.loyalty.score_rfm(T1, RULES, "run-1"))
    assert sorted(results) == [0, 0, 0, 10]
    assert len(run_rows(store, "run-1")) == 10


def test_segment_changes_are_reported_once_when_they_change(store: Store) -> None:
    ten_customers(store)
    store.loyalty.score_rfm(T1, RULES, "run-1")

    first = apply_all(store, "run-1", limit=4)  # pages of 4, 4 and 2
    assert first == [
        SegmentChange(customer_id, None, segment, r, f, m)
        for customer_id, (r, f, m, segment) in EXPECTED.items()
    ]
    assert store.loyalty.apply_rfm_run("run-1", limit=4) == ([], "r04")  # a page applied again
    assert apply_all(store, "run-1", limit=3) == []
    # One segment.entered per change, unrouted, committed with the segment itself.
    entered = {e.customer_id: e.properties["segment"] for e in store.events.pending(limit=100)}
    assert entered == {customer_id: row[3] for customer_id, row in EXPECTED.items()}

    t2 = second_run(store)
    assert apply_all(store, "run-2", limit=4) == SECOND_RUN_CHANGES
    kept = store.loyalty.segment_of("r10")  # same segment: computed_at moves, since stays
    moved = store.loyalty.segment_of("r02")
    assert kept is not None and moved is not None
    assert (kept.segment, kept.r, kept.f, kept.m, kept.since, kept.computed_at) == (
        "At Risk",
        1,
        4,
        3,
        T1,
        t2,
    )
    assert (moved.segment, moved.since, moved.computed_at) == ("Champions", t2, t2)
    assert store.loyalty.segment_of("old") is None

    # The older run applied late moves nobody back.
    assert apply_all(store, "run-1") == []
    assert store.loyalty.segment_of("r02").segment == "Champions"  # type: ignore[union-attr]


def test_racing_applies_of_one_page_report_each_change_once(store: Store) -> None:
    ten_customers(store)
    store.loyalty.score_rfm(T1, RULES, "run-1")
    results = concurrently(4, lambda _: store.loyalty.apply_rfm_run("run-1", limit=20))
    changes = [change for page, after in results for change in page]
    assert sorted(change.customer_id for change in changes) == sorted(EXPECTED)
    assert {after for _, after in results} == {""}

    second_run(store)  # now the rows exist: they are locked, not inserted
    results = concurrently(4, lambda _: store.loyalty.apply_rfm_run("run-2", limit=20))
    changes = [change for page, _ in results for change in page]
    assert sorted(changes, key=lambda change: change.customer_id) == SECOND_RUN_CHANGES
