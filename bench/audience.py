"""Audience scan: customers whose birthday is today, found page by page in SQL and started
as journeys, vs a bare loop of signal-with-start calls for the same ids.

Both sides start the same JourneyWorkflow (same input, same concurrency) on one embedded
dev server (SQLite, WAL, as the embedded default) and a task queue no worker polls, so
only the starting is measured: the scan side adds the paged SQL query, the audience
entries written before and after, and its workflow and activity round trips. Half the
customers are born today and half tomorrow; round 1 runs the bare loop then the scan on
the first half, round 2 the scan then the bare loop on the second, so a server that slows
as its database grows weighs on both sides alike. The scan's peak memory is the process's
peak resident set during a scan (reset just before it).

    python bench/audience.py             # 10,000 customers (the 5-minute default)
    python bench/audience.py 100000      # the issue's size: ~30 min on a 2-core machine

The dev server starts about 100-150 workflows/s on 2 cores whoever calls it, which is why
the default is 10,000: 100,000 would take some 12 minutes per side.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from temporalio.client import Client
from temporalio.worker import Worker

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bare_starts import bare_starts  # noqa: E402

from activities import audience as audience_activities  # noqa: E402
from activities.audience import AudienceActivities  # noqa: E402
from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.authoring.scenario_file import load_scenario  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.model.journey_state import JourneyInput  # noqa: E402
from journeys.model.scan_contracts import ScanInput, ScanProgress  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.store.tables import Customer  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402
from workflows.audience_scan import AudienceScanWorkflow  # noqa: E402

JOURNEYS_QUEUE = "bench-journeys"  # nobody polls it: journeys are started, not run
SCAN_QUEUE = "bench-scan"
CONCURRENCY = audience_activities.CONCURRENT_STARTS
PAGE = 1000


def generate(store: Store, count: int, days: tuple[date, date]) -> list[list[str]]:
    """``count`` customers (UTC zone), half born on each day, inserted in bulk."""
    groups: list[list[str]] = [[], []]
    rows = []
    for i in range(count):
        day = days[i % 2]
        customer_id = f"c{i:07d}"
        groups[i % 2].append(customer_id)
        rows.append(
            {
                "id": customer_id,
                "email": f"{customer_id}@example.com",
                "locale": "en",
                "time_zone": "UTC",
                "consent": {"email": True},
                "attributes": {},
                "birthday": day.replace(year=1990),
                "birth_month": day.month,
                "birth_day": day.day,
            }
        )
    with store.engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(Customer), rows[start : start + 10_000])
    return groups


async def bare_loop(client: Client, journey: JourneyInput, ids: list[str]) -> float:
    events = [Event(id=f"bare/{c}", name="scheduled.birthday", customer_id=c) for c in ids]
    return await bare_starts(
        client, journey, events, JOURNEYS_QUEUE, concurrency=CONCURRENCY, id_prefix="bare/"
    )


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM to the current RSS


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def scan(client: Client, scenario_id: str, at: datetime) -> tuple[float, ScanProgress]:
    started = time.perf_counter()
    progress = await client.execute_workflow(
        "AudienceScanWorkflow",
        ScanInput(scenario_id=scenario_id, at=at, page_size=PAGE),
        id=f"bench-scan/{at.date()}",
        task_queue=SCAN_QUEUE,
        result_type=ScanProgress,
    )
    return time.perf_counter() - started, progress


async def main(count: int) -> None:
    scenario = load_scenario(REPO / "scenarios" / "birthday.yaml")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = (today, today + timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder:
        store = Store(f"sqlite:///{Path(folder) / 'journeys.db'}")
        store.create_schema()
        groups = generate(store, count, (days[0].date(), days[1].date()))
        env = await start_embedded(Settings(data_dir=Path(folder), embedded_port=0), ui=False)
        journey = JourneyInput(scenario=scenario, customer_id="")
        bare = scanned = 0.0
        started = 0
        peak = 0.0
        try:
            router = Router(env.client, ScenarioRegistry([scenario]), JOURNEYS_QUEUE)
            scans = AudienceActivities(store, router.registry, router)
            worker = Worker(
                env.client,
                task_queue=SCAN_QUEUE,
                workflows=[AudienceScanWorkflow],
                activities=[scans.scan_audience_page],
            )
            async with worker:
                for number, (ids, at) in enumerate(zip(groups, days, strict=True)):
                    if number == 0:
                        bare += await bare_loop(env.client, journey, ids)
                    reset_peak_rss()
                    seconds, progress = await scan(env.client, scenario.id, at)
                    peak = max(peak, peak_rss_mib())
                    scanned += seconds
                    started += progress.started
                    if number == 1:
                        bare += await bare_loop(env.client, journey, ids)
                    print(f"round {number + 1}: {len(ids)} customers", flush=True)
        finally:
            await env.shutdown()
    assert started == count, (started, count)
    print(f"bare signal-with-start loop: {count} journeys in {bare:.1f}s ({count / bare:.0f}/s)")
    print(
        f"audience scan: {count} journeys in {scanned:.1f}s ({count / scanned:.0f}/s), "
        f"pages of {PAGE}"
    )
    print(f"scan peak memory: {peak:.0f} MiB resident (whole bench process)")
    print(f"ratio={bare / scanned:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
