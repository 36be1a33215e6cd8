"""Program KPIs: members, activity, orders, points flows, estimated CLV and NPS, over a
period, by tier or segment, and as a series (README, "Program KPIs", defines each figure).

Everything is summed by the database: four ``GROUP BY`` statements (members, purchases,
points entries, NPS answers) per report, plus two for a series (members and points of
the whole period are those of its buckets), whatever the number of customers or
buckets; Python only adds up per-group counts and divides. On SQLite the report reads
beside the writers (``Database.reading``): a report of seconds never queues a journey's
write behind it. Decisions:

* A **member** at a moment is a customer who had joined by then; joining is the first of
  the profile's creation and the first purchase, so a customer imported after years of
  buying is a member since the first purchase, and an active member is always a member.
* A customer's **tier or segment** is the one held at the end of the period, read from the
  history, so last November's report does not change when tiers move in December: the
  tier state when it has not moved since, else the latest ``tier.upgraded`` /
  ``tier.downgraded`` event before the end (a tier state with neither was the lowest
  tier); the segment when it has not moved since, else the latest ``rfm_scores`` row
  before the end. Only customers whose tier or segment moved after the period are looked
  up, each by an indexed read. Every bucket of a series uses the same grouping, so a
  group's line follows the same customers.
* **Points** are flows in the period, from the ``points_entries`` ledger: points earned,
  redeemed and expired in the bucket, whenever the lot was earned.
* **NPS** counts each customer once per bucket: the latest valid answer (a JSON integer
  ``score`` from 0 to 10 on an ``nps.answered`` event); other answers are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, null, select, text
from sqlmodel import Session

from journeys.loyalty.program import LoyaltyProgram
from journeys.store.engine import Database
from journeys.store.kpi_figures import (
    Counts,
    KpiBucket,
    KpiFigures,
    KpiGroup,
    KpiReport,
    figures,
)
from journeys.store.kpi_groups import GROUPINGS, By, group_order, grouping
from journeys.store.kpi_periods import (
    BEFORE,
    WHOLE,
    Bucket,
    Interval,
    KpiInputError,
    bucket_key,
    buckets,
    check_period,
)
from journeys.store.loyalty_tables import (
    EARN,
    EXPIRE,
    REDEEM,
    PointsEntry,
    Purchase,
)
from journeys.store.tables import Customer, UTCDateTime
from journeys.store.tracking_tables import EventRecord

__all__ = ["NPS_EVENT", "Kpis"]

NPS_EVENT = "nps.answered"
# Per (bucket key, group): the counts. The group is None without ``by``.
Gathered = dict[str, dict[str | None, Counts]]


class Kpis:
    def __init__(self, database: Database) -> None:
        self._database = database

    def report(
        self,
        since: datetime,
        until: datetime,
        *,
        by: By | None = None,
        series: Interval | None = None,
        program: LoyaltyProgram | None = None,
    ) -> KpiReport:
        """The KPIs of [since, until); ``KpiInputError`` (naming the parameter) for a bad one."""
        program = program or LoyaltyProgram()
        since, until = check_period(since, until)
        if by is not None and by not in GROUPINGS:
            raise KpiInputError("by", f"by must be one of {', '.join(GROUPINGS)}")
        series_buckets = buckets(since, until, series) if series else []
        whole = Bucket(WHOLE, since, until)
        with self._database.reading() as session:  # reads only: no writer lock
            gather = _Gatherer(session, since, until, by, program.tiers.levels[0].name)
            per_bucket = gather.counts(series, series_buckets) if series else {}
            totals = gather.counts(None, [whole], _whole_from(per_bucket, series_buckets))
        order = group_order(by, program)
        lifetime = program.kpis.lifetime_years
        overall, groups = _figures(totals[WHOLE], whole, by, order, lifetime)
        return KpiReport(
            since=since,
            until=until,
            by=by,
            series=series,
            lifetime_years=lifetime,
            overall=overall,
            groups=groups,
            buckets=[
                KpiBucket(b.since, b.until, *_figures(per_bucket[b.key], b, by, order, lifetime))
                for b in series_buckets
            ],
        )


def _whole_from(per_bucket: Gathered, in_order: list[Bucket]) -> Gathered | None:
    """The whole period's members (those of the last bucket) and points (the buckets'
    sums), from a series: two statements fewer. Active customers, repeaters and NPS
    answers are counted once per bucket, so those are gathered again for the whole."""
    if not in_order:
        return None
    whole: dict[str | None, Counts] = defaultdict(Counts)
    for grp, counts in per_bucket[in_order[-1].key].items():
        whole[grp].members = counts.members
    for bucket in in_order:
        for grp, counts in per_bucket[bucket.key].items():
            total = whole[grp]
            total.earned += counts.earned
            total.redeemed += counts.redeemed
            total.expired += counts.expired
    return {WHOLE: whole}


def _figures(
    counts: dict[str | None, Counts], bucket: Bucket, by: By | None, order: list[str], years: float
) -> tuple[KpiFigures, list[KpiGroup]]:
    total = sum(counts.values(), Counts())
    overall = figures(total, bucket.days, years)
    if by is None:
        return overall, []
    extra = sorted(g for g in counts if g is not None and g not in order)
    names: list[str | None] = [*order, *extra]
    if None in counts:
        names.append(None)
    return overall, [
        KpiGroup(name, figures(counts.get(name, Counts()), bucket.days, years)) for name in names
    ]


class _Gatherer:
    """The four aggregates of one report, for the whole period or for its buckets."""

    def __init__(
        self, session: Session, since: datetime, until: datetime, by: By | None, lowest: str
    ) -> None:
        self._session = session
        self._dialect = session.get_bind().dialect.name
        if self._dialect == "postgresql":
            # The planner costs the correlated tier / segment look-ups as if run for every
            # row, which passes jit_above_cost: compiling the plan then took 2 of the 2.7 s
            # of a query that runs in 0.5 s (EXPLAIN ANALYZE, 20,000 customers). This
            # transaction only reads.
            session.exec(text("SET LOCAL jit = off"))
        self._since, self._until = since, until
        self._grouped = grouping(by, until, lowest) if by else None

    def counts(
        self, interval: Interval | None, in_order: list[Bucket], known: Gathered | None = None
    ) -> Gathered:
        """The counts per bucket; with ``known`` (the whole period's members and points,
        from the series), only the customer counts that do not add up across buckets."""
        keys = [b.key for b in in_order]
        out: Gathered = known or {key: defaultdict(Counts) for key in keys}
        if known is None:
            self._members(interval, keys, out)
            self._points(interval, out)
        self._purchases(interval, out)
        self._nps(interval, out)
        return out

    # Each statement selects (bucket key, group, ...): a bucket key outside the report's
    # buckets cannot occur (every row is filtered to the period), so rows are filed as is.

    def _key(self, moment: Any, interval: Interval | None) -> Any:
        return bucket_key(moment, interval, self._dialect)

    def _in_period(self, moment: Any) -> Any:
        return and_(moment >= self._since, moment < self._until)

    def _grouped_by(self, rows: Any) -> tuple[Any, Any, list[Any]]:
        """``rows`` (with ``customer_id``) joined to their group, the group column, and what
        to add to the ``GROUP BY`` for it (nothing without ``by``)."""
        if self._grouped is None:
            return rows, null(), []
        joined = rows.join(self._grouped, self._grouped.c.customer_id == rows.c.customer_id)
        return joined, self._grouped.c.grp, [self._grouped.c.grp]

    def _rows(self, statement: Any) -> list[Any]:
        return list(self._session.exec(statement).all())

    def _members(self, interval: Interval | None, keys: list[str], out: Gathered) -> None:
        """Members at each bucket's end: those who joined before the period, plus those who
        joined in it up to that bucket (a running sum over the joining buckets)."""
        customers, purchases = Customer.__table__, Purchase.__table__
        first = (
            select(purchases.c.customer_id, func.min(purchases.c.occurred_at).label("first"))
            .group_by(purchases.c.customer_id)
            .subquery("first_purchase")
        )
        joined = case(
            (
                and_(first.c.first.is_not(None), first.c.first < customers.c.created_at),
                first.c.first,
            ),
            else_=customers.c.created_at,
        )
        since = literal(self._since, UTCDateTime)
        rows = (
            select(
                customers.c.id.label("customer_id"),
                case((joined < since, literal(BEFORE)), else_=self._key(joined, interval)).label(
                    "k"
                ),
            )
            .select_from(customers.outerjoin(first, first.c.customer_id == customers.c.id))
            .where(joined < literal(self._until, UTCDateTime))
            .subquery("joined")
        )
        source, group, grouping = self._grouped_by(rows)
        joined_in: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
        statement = select(rows.c.k, group.label("grp"), func.count()).select_from(source)
        for key, grp, n in self._rows(statement.group_by(rows.c.k, *grouping)):
            joined_in[key][grp] += int(n)
        running = dict(joined_in.get(BEFORE, {}))
        for key in keys:
            for grp, n in joined_in.get(key, {}).items():
                running[grp] = running.get(grp, 0) + n
            for grp, n in running.items():
                out[key][grp].members = n

    def _purchases(self, interval: Interval | None, out: Gathered) -> None:
        purchases = Purchase.__table__
        rows = (
            select(
                purchases.c.customer_id,
                self._key(purchases.c.occurred_at, interval).label("k"),
                purchases.c.amount,
            )
            .where(self._in_period(purchases.c.occurred_at))
            .subquery("bought")
        )
        per_customer = (
            select(
                rows.c.customer_id,
                rows.c.k,
                func.count().label("n"),
                func.sum(rows.c.amount).label("revenue"),
            )
            .group_by(rows.c.customer_id, rows.c.k)
            .subquery("per_customer")
        )
        source, group, grouping = self._grouped_by(per_customer)
        c = per_customer.c
        statement = select(
            c.k,
            group.label("grp"),
            func.count(),
            func.sum(c.n),
            func.sum(c.revenue),
            func.sum(case((c.n >= 2, 1), else_=0)),
        ).select_from(source)
        for key, grp, active, n, revenue, repeaters in self._rows(
            statement.group_by(c.k, *grouping)
        ):
            counts = out[key][grp]
            counts.active, counts.purchases = int(active), int(n)
            counts.revenue, counts.repeaters = float(revenue or 0), int(repeaters)

    def _points(self, interval: Interval | None, out: Gathered) -> None:
        entries = PointsEntry.__table__
        rows = (
            select(
                entries.c.customer_id,
                self._key(entries.c.occurred_at, interval).label("k"),
                entries.c.kind,
                entries.c.amount,
            )
            .where(self._in_period(entries.c.occurred_at))
            .subquery("entries")
        )
        source, group, grouping = self._grouped_by(rows)
        statement = select(
            rows.c.k, group.label("grp"), rows.c.kind, func.sum(rows.c.amount)
        ).select_from(source)
        for key, grp, kind, total in self._rows(
            statement.group_by(rows.c.k, *grouping, rows.c.kind)
        ):
            counts, points = out[key][grp], abs(int(total or 0))  # redeem, expire: negative
            if kind == EARN:
                counts.earned = points
            elif kind == REDEEM:
                counts.redeemed = points
            elif kind == EXPIRE:
                counts.expired = points

    def _nps(self, interval: Interval | None, out: Gathered) -> None:
        events = EventRecord.__table__
        score = _score(events.c.properties, self._dialect)
        answers = (
            select(
                events.c.customer_id,
                self._key(events.c.occurred_at, interval).label("k"),
                score.label("score"),
                events.c.occurred_at,
                events.c.id,
            )
            .where(events.c.name == NPS_EVENT, self._in_period(events.c.occurred_at))
            .subquery("answers")
        )
        a = answers.c
        newest_first = func.row_number().over(
            partition_by=(a.customer_id, a.k), order_by=(a.occurred_at.desc(), a.id.desc())
        )
        ranked = (
            select(a.customer_id, a.k, a.score, newest_first.label("nth"))
            .where(a.score.is_not(None))
            .subquery("ranked")
        )
        latest = select(ranked).where(ranked.c.nth == 1).subquery("latest")
        source, group, grouping = self._grouped_by(latest)
        c = latest.c
        statement = select(
            c.k,
            group.label("grp"),
            func.count(),
            func.sum(case((c.score >= 9, 1), else_=0)),
            func.sum(case((c.score <= 6, 1), else_=0)),
        ).select_from(source)
        for key, grp, n, promoters, detractors in self._rows(statement.group_by(c.k, *grouping)):
            counts = out[key][grp]
            counts.responses, counts.promoters = int(n), int(promoters)
            counts.detractors = int(detractors)


def _score(properties: Any, dialect: str) -> Any:
    """The answer's ``score`` when it is a JSON integer from 0 to 10, else NULL: text,
    booleans, fractions and numbers out of range are no answer (on either database)."""
    if dialect == "postgresql":
        text = properties["score"].as_string()
        whole = and_(
            func.json_typeof(properties["score"]) == "number",
            text.in_([str(n) for n in range(11)]),
        )
        return case((whole, cast(text, Integer)), else_=null())
    value = func.json_extract(properties, "$.score")
    whole = and_(func.json_type(properties, "$.score") == "integer", value.between(0, 10))
    return case((whole, value), else_=null())
