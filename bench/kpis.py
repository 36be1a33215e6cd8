"""Program KPIs at 100,000 customers: ``store.kpis.report`` vs a bare ``COUNT(*)`` over the
same tables.

A generated year of a program, inserted in bulk: 100,000 customers (a fifth never buy),
about 3 purchases per buyer with their points (earn entries, some redemptions and
expiries), tier states, RFM segments from one scoring run, 20,000 NPS answers among
200,000 other events. Then, each timed as the best of 3 runs:

* the bare side: ``SELECT COUNT(*)`` of customers, purchases, points_entries and events
  (the least any report over those tables reads);
* the KPI side: the whole year, by tier with a monthly series, by segment with a weekly one.

    python bench/kpis.py                      # SQLite in a temporary folder, 100,000 customers
    python bench/kpis.py 20000                # fewer customers
    python bench/kpis.py 100000 postgresql+psycopg://postgres@127.0.0.1:5432/test

``ratio`` = bare time / the by-tier monthly report's time (higher is better: 1 would be as
fast as counting the rows).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from journeys.loyalty.program import LoyaltyProgram  # noqa: E402
from journeys.loyalty.segments import SEGMENTS  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.store.loyalty_tables import (  # noqa: E402
    CustomerSegment,
    PointsEntry,
    Purchase,
    TierState,
)
from journeys.store.tables import Customer  # noqa: E402
from journeys.store.tracking_tables import EventRecord  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
CHUNK = 5000


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(int((END - START).total_seconds())))


def generate(store: Store, count: int) -> dict[str, int]:
    rng = random.Random(20261203)
    tables: dict[str, list[dict[str, object]]] = {
        name: [] for name in ("customers", "purchases", "entries", "tiers", "segments", "events")
    }
    tiers = [level.name for level in LoyaltyProgram().tiers.levels]
    segments = [name for name, _, _ in SEGMENTS]
    for n in range(count):
        cid = f"c{n:06d}"
        joined = START - timedelta(days=rng.randrange(0, 700))
        tables["customers"].append(
            {"id": cid, "consent": {}, "attributes": {}, "created_at": joined, "updated_at": joined}
        )
        if n % 5 == 0:
            continue  # never buys
        for k in range(rng.randrange(1, 6)):
            when, amount = _moment(rng), round(rng.uniform(5, 300), 2)
            ref = f"{cid}-{k}"
            tables["purchases"].append(
                {
                    "customer_id": cid,
                    "amount": amount,
                    "occurred_at": when,
                    "source_ref": ref,
                    "created_at": when,
                }
            )
            tables["entries"].append(
                {
                    "customer_id": cid,
                    "kind": "earn",
                    "amount": int(amount),
                    "lot_id": n * 10 + k,
                    "source_ref": ref,
                    "reason": "",
                    "occurred_at": when,
                    "created_at": when,
                }
            )
            if rng.random() < 0.3:
                kind = rng.choice(["redeem", "expire"])
                later = min(when + timedelta(days=rng.randrange(1, 200)), END)
                tables["entries"].append(
                    {
                        "customer_id": cid,
                        "kind": kind,
                        "amount": -int(amount) // 2,
                        "lot_id": n * 10 + k,
                        "source_ref": f"{kind}-{ref}",
                        "reason": "",
                        "occurred_at": later,
                        "created_at": later,
                    }
                )
        since = _moment(rng)
        tables["tiers"].append(
            {
                "customer_id": cid,
                "tier": rng.choice(tiers),
                "since": since,
                "spend_12m": 0.0,
                "evaluated_at": since,
            }
        )
        tables["segments"].append(
            {
                "customer_id": cid,
                "segment": rng.choice(segments),
                "r": 1,
                "f": 1,
                "m": 1,
                "since": since,
                "computed_at": since,
            }
        )
    for n in range(220_000 * count // 100_000):
        nps = n % 11 == 0
        tables["events"].append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "customer_id": f"c{rng.randrange(count):06d}",
                "name": "nps.answered" if nps else "page.viewed",
                "properties": {"score": rng.randrange(11)} if nps else {"path": "/"},
                "occurred_at": _moment(rng),
                "received_at": START,
            }
        )
    targets = {
        "customers": Customer,
        "purchases": Purchase,
        "entries": PointsEntry,
        "tiers": TierState,
        "segments": CustomerSegment,
        "events": EventRecord,
    }
    with store.engine.begin() as connection:
        for name, rows in tables.items():
            table = targets[name].__table__  # type: ignore[attr-defined]
            for first in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[first : first + CHUNK])
        if store.engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    return {name: len(rows) for name, rows in tables.items()}


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def bare_counts(store: Store) -> None:
    with store.engine.connect() as connection:
        for model in (Customer, Purchase, PointsEntry, EventRecord):
            table = model.__table__  # type: ignore[attr-defined]
            connection.execute(select(func.count()).select_from(table)).scalar_one()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{folder}/journeys.db"
        if url.startswith("postgresql"):
            from sqlalchemy import create_engine, make_url

            schema = f"bench_kpis_{uuid.uuid4().hex[:8]}"
            admin = create_engine(url)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
            url = url.render_as_string(hide_password=False)
        store = Store(url)
        store.create_schema()
        started = time.perf_counter()
        sizes = generate(store, count)
        print(f"generated in {time.perf_counter() - started:.1f}s: {sizes}", flush=True)
        program = LoyaltyProgram()
        bare = best_of(3, lambda: bare_counts(store))
        whole = best_of(3, lambda: store.kpis.report(START, END, program=program))
        monthly = best_of(
            3, lambda: store.kpis.report(START, END, by="tier", series="month", program=program)
        )
        weekly = best_of(
            3, lambda: store.kpis.report(START, END, by="segment", series="week", program=program)
        )
        report = store.kpis.report(START, END, by="tier", series="month", program=program)
        print(f"database: {store.engine.dialect.name}, {count:,} customers")
        print(f"bare COUNT(*) of the four tables: {bare * 1000:.0f} ms")
        print(f"KPIs, the whole year: {whole * 1000:.0f} ms")
        print(f"KPIs by tier, monthly series (12 buckets): {monthly * 1000:.0f} ms")
        print(f"KPIs by segment, weekly series (53 buckets): {weekly * 1000:.0f} ms")
        o = report.overall
        print(
            f"figures: members {o.members:,}, active {o.active_members:,} "
            f"({o.active_member_ratio}), AOV {o.average_order_value}, "
            f"redemption {o.redemption_rate}, breakage {o.breakage}, NPS {o.nps}"
        )
        store.engine.dispose()
        if "schema" in locals():
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        print(f"ratio={bare / monthly:.3f}")


if __name__ == "__main__":
    main()
