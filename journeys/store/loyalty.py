"""Purchases, tier evaluation and RFM scoring, and the loyalty snapshot templates read.

* A purchase is recorded once per ``source_ref`` (the event id): a replayed or retried
  ``purchase`` event neither counts twice toward the tier nor scores twice in RFM.
* A customer's first purchase completes their pending referral in the same transaction
  (``journeys.store.referrals``): both customers' ``referral.completed`` events commit
  with the purchase, or neither does.
* A purchase evaluates the tier at once, so upgrades are immediate. Spend that rolls out
  of the 12-month window raises no event: downgrades are found by the daily
  ``review_tiers``, which pages through the customers that have a tier.
* RFM quintiles are computed by the database (``NTILE(5)`` in one ``INSERT ... SELECT``),
  so scoring 100k customers never passes them through Python; applying a run to the
  customers' current segments then pages through its scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, Numeric, and_, case, cast, extract, func, insert, literal
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session, col, select

from journeys.loyalty.program import RfmRules, TierRules
from journeys.loyalty.segments import SEGMENTS
from journeys.store.engine import Database
from journeys.store.loyalty_tables import CustomerSegment, Purchase, RfmScore, TierState
from journeys.store.points import Points
from journeys.store.referrals import Referrals, complete_on_first_purchase
from journeys.store.tables import Customer, UTCDateTime
from journeys.store.tracking_tables import derived_event

__all__ = ["Loyalty", "SegmentChange", "TierChange"]

_RETRIES = 3  # a unique-key conflict is a racing writer: re-read and try again


@dataclass(frozen=True)
class TierChange:
    customer_id: str
    previous: str | None
    new: str
    spend: float
    direction: Literal["upgraded", "downgraded"]


@dataclass(frozen=True)
class SegmentChange:
    customer_id: str
    previous: str | None
    new: str
    r: int
    f: int
    m: int


class Loyalty:
    """Takes the points wallet: the snapshot templates read shows points beside the tier."""

    def __init__(self, database: Database, points: Points, referrals: Referrals) -> None:
        self._database = database
        self._points = points
        self._referrals = referrals

    def snapshot(self, customer_id: str, at: datetime, *, referral: bool = False) -> dict[str, Any]:
        """What templates see as ``points``, ``tier`` and ``segment``, read fresh at ``at``;
        with ``referral``, also ``referral.code`` (made on first ask: only a template or
        an expression that names ``referral`` asks)."""
        tier = self.tier_of(customer_id)
        segment = self.segment_of(customer_id)
        snapshot: dict[str, Any] = {
            "points": self._points.summary(customer_id, at),
            "tier": tier.tier if tier else None,
            "segment": segment.segment if segment else None,
        }
        if referral:
            snapshot["referral"] = {"code": self._referrals.code_for(customer_id)}
        return snapshot

    # Purchases ------------------------------------------------------------------------

    def record_purchase(
        self,
        customer_id: str,
        amount: float,
        *,
        source_ref: str,
        occurred_at: datetime,
        currency: str = "",
    ) -> tuple[Purchase, bool]:
        """Stores a purchase once per ``source_ref``: (the row, True) when new, (the row
        already stored, False) on a repeat. A missing customer is created with it."""
        amount = round(amount, 2)
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"a purchase amount must be a number >= 0, not {amount}")
        query = select(Purchase).where(Purchase.source_ref == source_ref)
        for _ in range(_RETRIES):  # a racing insert of this purchase, or of this customer
            with self._database.session() as session:
                existing = session.exec(query).first()
                if existing is not None:
                    return existing, False
                if session.get(Customer, customer_id) is None:
                    session.add(Customer(id=customer_id))
                row = Purchase(
                    customer_id=customer_id,
                    amount=amount,
                    currency=currency,
                    occurred_at=occurred_at,
                    source_ref=source_ref,
                )
                session.add(row)
                try:
                    session.flush()  # a racing duplicate fails here, before the referral
                    complete_on_first_purchase(session, row)  # and its events, in this commit
                    session.commit()
                    return row, True
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"purchase '{source_ref}' kept conflicting with other writers")

    def purchases_for(self, customer_id: str) -> list[Purchase]:
        with self._database.session() as session:
            query = select(Purchase).where(Purchase.customer_id == customer_id)
            return list(session.exec(query.order_by(col(Purchase.occurred_at))).all())

    # Tiers ----------------------------------------------------------------------------

    def tier_of(self, customer_id: str) -> TierState | None:
        with self._database.session() as session:
            return session.get(TierState, customer_id)

    def evaluate_tier(self, customer_id: str, at: datetime, rules: TierRules) -> TierChange | None:
        """Sets the customer's tier from the spend in (at - window, at]; returns the change,
        if any. A customer never evaluated was in the lowest tier.

        The tier row is locked (PostgreSQL) for the read-compare-write, and a racing first
        evaluation loses the primary key and re-evaluates: two evaluations at once report
        one change. Time never runs backwards for a customer: an evaluation older than the
        stored one (a late event) is made at the stored time instead.
        """
        lowest = rules.levels[0].name
        for _ in range(_RETRIES):
            with self._database.session() as session:
                state = session.get(TierState, customer_id, with_for_update=True)
                when = max(at, state.evaluated_at) if state is not None else at
                spend = _spend(session, customer_id, when - rules.window, when)
                tier = rules.tier_for(spend)
                previous = state.tier if state is not None else lowest
                moved = rules.rank(tier) - rules.rank(previous)
                if state is None:
                    state = TierState(
                        customer_id=customer_id, tier=tier, since=when, evaluated_at=when
                    )
                elif moved:
                    state.tier, state.since = tier, when
                state.spend_12m, state.evaluated_at = spend, when
                session.add(state)
                direction: Literal["upgraded", "downgraded"] = (
                    "upgraded" if moved > 0 else "downgraded"
                )
                if moved:  # routed by journeys.temporal.relay once this commits, never lost
                    session.add(
                        derived_event(
                            f"tier/{customer_id}/{when.isoformat()}/{tier}",
                            customer_id,
                            f"tier.{direction}",
                            {"previous_tier": previous, "new_tier": tier, "spend": spend},
                            when,
                        )
                    )
                try:
                    session.commit()
                except IntegrityError:  # a racing first evaluation: evaluate against it
                    session.rollback()
                    continue
                if not moved:
                    return None
                return TierChange(customer_id, previous, tier, spend, direction)
        raise RuntimeError(f"tier of '{customer_id}' kept conflicting with other writers")

    def review_tiers(
        self, at: datetime, rules: TierRules, *, after: str = "", limit: int = 500
    ) -> tuple[list[TierChange], str]:
        """Re-evaluates one page of the customers that have a tier (customer_id > ``after``,
        in order); returns the changes and the id to pass as ``after`` next ("": done)."""
        with self._database.session() as session:
            query = (
                select(TierState.customer_id)
                .where(col(TierState.customer_id) > after)
                .order_by(col(TierState.customer_id))
                .limit(limit)
            )
            ids = list(session.exec(query).all())
        changes = [self.evaluate_tier(customer_id, at, rules) for customer_id in ids]
        return [c for c in changes if c is not None], ids[-1] if len(ids) == limit else ""

    # RFM ------------------------------------------------------------------------------

    def segment_of(self, customer_id: str) -> CustomerSegment | None:
        with self._database.session() as session:
            return session.get(CustomerSegment, customer_id)

    def score_rfm(self, at: datetime, rules: RfmRules, run_id: str) -> int:
        """Scores every customer with a purchase in (at - window, at] under ``run_id``;
        returns how many rows the run holds. Once per run: a run is written in one
        statement, so a run_id with any row is complete and a repeat writes nothing.

        R, F, M are quintiles (``NTILE(5)``, 5 = most recent / most frequent / highest
        spend) of the customers sorted by the value then by customer_id, so ties are
        split the same way on every run. Fewer than 5 customers fill the lower quintiles.
        """
        scores = RfmScore.__table__
        done = select(func.count()).select_from(scores).where(scores.c.run_id == run_id)
        with self._database.session() as session:
            if session.exec(done).one():
                return 0
            dialect = session.get_bind().dialect.name
            try:
                rows = _rfm_select(at, rules, run_id, dialect)
                names = [column.key for column in rows.selected_columns]
                session.exec(insert(scores).from_select(names, rows))
                session.commit()
            except IntegrityError:  # the same run, racing: it wrote them
                session.rollback()
                return 0
            return int(session.exec(done).one())

    def apply_rfm_run(
        self, run_id: str, *, after: str = "", limit: int = 500
    ) -> tuple[list[SegmentChange], str]:
        """Moves one page of the run's scores (customer_id > ``after``) to the customers'
        current segments; returns the segment changes and the next ``after`` ("": done).

        Re-applying a page reports nothing new. A score older than the stored segment
        (an earlier run applied late) is skipped rather than moving the customer back.
        """
        for _ in range(_RETRIES):  # a racing apply created a segment row first
            with self._database.session() as session:
                query = (
                    select(RfmScore)
                    .where(RfmScore.run_id == run_id, col(RfmScore.customer_id) > after)
                    .order_by(col(RfmScore.customer_id))
                    .limit(limit)
                )
                page = list(session.exec(query).all())
                ids = [score.customer_id for score in page]
                stored = session.exec(
                    select(CustomerSegment)
                    .where(col(CustomerSegment.customer_id).in_(ids))
                    .order_by(col(CustomerSegment.customer_id))  # one lock order: no deadlock
                    .with_for_update()
                ).all()
                current = {row.customer_id: row for row in stored}
                changes = [
                    change
                    for score in page
                    if (change := _apply_score(session, score, current.get(score.customer_id)))
                ]
                scored = {score.customer_id: score.computed_at for score in page}
                session.add_all(  # routed by journeys.temporal.relay once this commits
                    derived_event(
                        f"segment/{change.customer_id}/{run_id}",
                        change.customer_id,
                        "segment.entered",
                        {
                            "segment": change.new,
                            "previous_segment": change.previous,
                            "r": change.r,
                            "f": change.f,
                            "m": change.m,
                        },
                        scored[change.customer_id],
                    )
                    for change in changes
                )
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                return changes, ids[-1] if len(ids) == limit else ""
        raise RuntimeError(f"RFM run '{run_id}' kept conflicting with other writers")


def _spend(session: Session, customer_id: str, since: datetime, until: datetime) -> float:
    total = session.exec(
        select(func.coalesce(func.sum(Purchase.amount), 0.0)).where(
            Purchase.customer_id == customer_id,
            col(Purchase.occurred_at) > since,
            col(Purchase.occurred_at) <= until,
        )
    ).one()
    return round(float(total), 2)  # 250 x 1.20 sums to 299.99999...: still 300 for a threshold


def _apply_score(
    session: Session, score: RfmScore, row: CustomerSegment | None
) -> SegmentChange | None:
    """Writes ``score`` over the customer's segment row; the change, if the segment moved."""
    if row is not None and row.computed_at > score.computed_at:
        return None
    previous = row.segment if row is not None else None
    if row is None:
        row = CustomerSegment(
            customer_id=score.customer_id,
            segment=score.segment,
            r=score.r,
            f=score.f,
            m=score.m,
            since=score.computed_at,
            computed_at=score.computed_at,
        )
    elif previous != score.segment:
        row.segment, row.since = score.segment, score.computed_at
    row.r, row.f, row.m, row.computed_at = score.r, score.f, score.m, score.computed_at
    session.add(row)
    if previous == score.segment:
        return None
    return SegmentChange(score.customer_id, previous, score.segment, score.r, score.f, score.m)


def _rfm_select(at: datetime, rules: RfmRules, run_id: str, dialect: str) -> Select[Any]:
    """SELECT of the rows of one run, labelled as ``rfm_scores`` columns: one aggregate per
    customer, then the three quintiles over them, then the segment from (R, F)."""
    purchases = Purchase.__table__
    at_value = literal(at, UTCDateTime)
    last = func.max(purchases.c.occurred_at)
    per_customer = (
        select(
            purchases.c.customer_id,
            _days_between(last, at_value, dialect).label("recency_days"),
            func.count().label("frequency"),
            func.round(cast(func.sum(purchases.c.amount), Numeric), 2).label("monetary"),
        )
        .where(purchases.c.occurred_at > at - rules.window, purchases.c.occurred_at <= at)
        .group_by(purchases.c.customer_id)
        .subquery("per_customer")
    )
    c = per_customer.c

    def quintile(order: Any) -> Any:
        """1 + 5 * (rank - 1) // n: equal values share a rank, so they share a score (with
        NTILE, 85% one-time buyers would be split across F=1..5 by their ids)."""
        rank = func.rank().over(order_by=order) - 1
        return 1 + (5 * rank) // func.count().over()

    scored = select(
        c.customer_id,
        c.recency_days,
        c.frequency,
        c.monetary,
        quintile(c.recency_days.desc()).label("r"),  # fewest days since = 5
        quintile(c.frequency).label("f"),
        quintile(c.monetary).label("m"),
    ).subquery("scored")
    s = scored.c
    segment = case(*[(and_(s.r.in_(rs), s.f.in_(fs)), literal(name)) for name, rs, fs in SEGMENTS])
    return select(
        literal(run_id).label("run_id"),
        s.customer_id,
        s.recency_days,
        s.frequency,
        s.monetary,
        s.r,
        s.f,
        s.m,
        segment.label("segment"),
        at_value.label("computed_at"),
    ).order_by(s.customer_id)  # racing runs insert in one order: a key conflict, no deadlock


def _days_between(earlier: Any, later: Any, dialect: str) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later`` (rounded down), in the dialect's SQL."""
    if dialect == "sqlite":  # julianday counts whole milliseconds: round them, then divide
        millis = func.round((func.julianday(later) - func.julianday(earlier)) * 86_400_000)
        return cast(cast(millis, Integer) // 86_400_000, Integer)
    return cast(func.floor(extract("epoch", later - earlier) / 86_400), Integer)
