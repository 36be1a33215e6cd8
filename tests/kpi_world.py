"""A small loyalty program with a known history, for the KPI tests (store, API, CLI).

Built with the real store parts at pinned moments (2026, whatever day the suite runs);
the period of the reports is [2026-09-01, 2026-12-01): September, an empty October,
November. Every figure the tests expect is worked out by hand from this script.

Customers (joined = the first of profile creation and first purchase):

* ``a`` created 08-01. Buys 100 (09-05), 50 (09-20), 400 (11-10): member, then silver on
  11-10 (spend 550). Redeems 120 on 09-25 (its 100 lot, then 20 of the 50). Answers NPS 6
  (09-15) then 10 (11-15).
* ``b`` created 08-15. Buys 30 (09-10): member. Answers 8 (11-12) then 9 (11-28).
* ``c`` created 09-25, never buys: member by default. Answers 3 (09-27).
* ``d`` created 12-10, but bought 1200 on 11-20 (gold at once): a member since 11-20.
  Redeems 200 on 11-25. Its answers are no answers: "9" (text), true, 11.
* ``f`` created 07-01. Buys 350 (07-10): silver. Buys 800 on 12-15: gold, after the
  period, so it was silver at the end of it. Its 350 points expire in September.
  Answers 10 on 12-05 (after the period).
* ``e`` created 12-20, never buys: not a member in the period.

Points: 1 per unit, expiring 60 days after earning (end of that UTC day). The daily
settle runs on 11-30: it expires a's 30 left of the 50 (at 11-20 00:00), b's 30 (11-10)
and f's 350 (09-09). RFM runs on 11-30 and 12-20 (segments in ``tests/store/test_kpis.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys.loyalty.program import Expiry, KpiRules, LoyaltyProgram, PointsRules
from journeys.model.events import Event
from journeys.store import Store
from journeys.store.tables import Customer

SINCE = datetime(2026, 9, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
PROGRAM = LoyaltyProgram(
    points=PointsRules(expiry=Expiry(after=timedelta(days=60))),
    kpis=KpiRules(lifetime_years=2),
)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


CREATED = {
    "a": at(8, 1),
    "b": at(8, 15),
    "c": at(9, 25),
    "d": at(12, 10),
    "e": at(12, 20),
    "f": at(7, 1),
}
PURCHASES = [  # (customer, amount, when), in time order
    ("f", 350.0, at(7, 10)),
    ("a", 100.0, at(9, 5)),
    ("b", 30.0, at(9, 10)),
    ("a", 50.0, at(9, 20)),
    ("a", 400.0, at(11, 10)),
    ("d", 1200.0, at(11, 20)),
    ("f", 800.0, at(12, 15)),
]
REDEMPTIONS = [("a", 120, at(9, 25)), ("d", 200, at(11, 25))]
ANSWERS = [  # (customer, properties, when)
    ("a", {"score": 6}, at(9, 15)),
    ("c", {"score": 3}, at(9, 27)),
    ("a", {"score": 10}, at(11, 15)),
    ("b", {"score": 8}, at(11, 12)),
    ("b", {"score": 9}, at(11, 28)),
    ("d", {"score": "9"}, at(11, 22)),
    ("d", {"score": True}, at(11, 23)),
    ("d", {"score": 11}, at(11, 24)),
    ("f", {"score": 10}, at(12, 5)),
]


def build_world(store: Store) -> None:
    for customer_id, created in CREATED.items():
        store.customers.upsert(customer_id, email=f"{customer_id}@example.com")
        with store.database.session() as session:
            row = session.get(Customer, customer_id)
            assert row is not None
            row.created_at = created
            session.add(row)
            session.commit()
    for n, (customer_id, amount, when) in enumerate(PURCHASES):
        ref = f"order-{n}"
        store.loyalty.record_purchase(customer_id, amount, source_ref=ref, occurred_at=when)
        store.points.earn(
            customer_id,
            PROGRAM.points_for(amount),
            source_ref=ref,
            reason="purchase",
            at=when,
            rules=PROGRAM.points,
        )
        store.loyalty.evaluate_tier(customer_id, when, PROGRAM.tiers)
    for n, (customer_id, points, when) in enumerate(REDEMPTIONS):
        store.points.redeem(customer_id, points, source_ref=f"reward-{n}", reason="t", at=when)
    store.points.settle(at(11, 30, 0))
    for run, when in (("rfm-1", at(11, 30, 0)), ("rfm-2", at(12, 20, 0))):
        store.loyalty.score_rfm(when, PROGRAM.rfm, run)
        store.loyalty.apply_rfm_run(run)
    # Another event with a score, in the period: not an answer.
    store.events.record(
        Event(
            id="review-1",
            customer_id="c",
            name="review.posted",
            properties={"score": 1},
            occurred_at=at(11, 1),
        )
    )
    for n, (customer_id, properties, when) in enumerate(ANSWERS):
        store.events.record(
            Event(
                id=f"nps-{n}",
                customer_id=customer_id,
                name="nps.answered",
                properties=properties,
                occurred_at=when,
            )
        )
