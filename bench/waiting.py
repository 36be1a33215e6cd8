"""What waiting journeys cost: worker memory and Temporal server disk per journey parked in
a wait, and how fast they can be started.

The scenario is the real abandoned cart (scenarios/abandoned_cart.yaml): each journey
enters, records its ``entered`` and ``waiting`` facts, and parks in its first step, a
one-hour ``wait`` (real time: no time skipping), which the run never outlasts. The worker
is a separate ``python worker.py`` process (the production wiring, its own store
connection), against a private embedded dev server (SQLite, WAL, as the embedded default)
and a private SQLite store; the bench process only routes the ``cart.updated`` events
(``Router.route``, 64 in flight, as the API's relay does) and watches.

Measured, after a warm-up of 100 journeys (imports, the sandbox, the SQLite caches) and
again once every journey has recorded its ``waiting`` fact:

* the worker's resident set (``VmRSS`` of its /proc entry) and its peak (``VmHWM``);
* the server's database: ``temporal.db`` plus its ``-wal`` and ``-shm`` files;
* the start rate (events routed per second) and the settle rate (journeys waiting per
  second, counted from the ``waiting`` facts in the store).

The last line is ``ratio=`` (DISK_BUDGET per journey) / (measured server disk growth per
journey), higher is better: disk, not memory, is what grows with the number of waiting
journeys, because the worker keeps at most ``max_cached_workflows`` (the SDK's 1,000) of
them in memory and replays the others from history when their timer fires.

    python bench/waiting.py             # 3,000 journeys (the 5-minute default on 2 cores)
    python bench/waiting.py 20000       # the issue's size: ~16 minutes on 2 cores
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from worker_processes import add_customers, worker_env  # noqa: E402

from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.store.tracking_tables import JourneyFact  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402

SCENARIO = REPO / "scenarios" / "abandoned_cart.yaml"
QUEUE = "bench-waiting"
CONCURRENCY = 64
WARM_UP = 100
DISK_BUDGET = 64 * 1024  # bytes of server database per waiting journey we are happy with
CART = {"cart_total": 42.0, "currency": "EUR", "item_count": 1, "cart_url": "https://x.example"}
KIB, MIB = 1024, 1024 * 1024


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def database_bytes(folder: Path) -> int:
    return sum(
        path.stat().st_size
        for path in folder.glob("temporal.db*")  # the file, -wal and -shm
        if path.is_file()
    )


def waiting_count(store: Store) -> int:
    query = select(func.count()).where(JourneyFact.kind == "waiting")  # type: ignore[arg-type]
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


async def route_all(router: Router, ids: list[str]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(customer: str) -> None:
        async with gate:
            event = Event(
                id=uuid.uuid4().hex, name="cart.updated", customer_id=customer, properties=CART
            )
            await router.route(event)

    began = time.perf_counter()
    await asyncio.gather(*(one(c) for c in ids))
    return time.perf_counter() - began


async def settled(
    store: Store, expected: int, worker: asyncio.subprocess.Process, folder: Path
) -> None:
    """Returns once ``expected`` journeys wait; every 30 s, a progress line (long runs)."""
    began = last = time.monotonic()
    while (waiting := await asyncio.to_thread(waiting_count, store)) < expected:
        if worker.returncode is not None:
            raise SystemExit(f"the worker stopped (exit {worker.returncode})")
        if time.monotonic() - last >= 30:
            last = time.monotonic()
            print(
                f"  {last - began:.0f}s: {waiting} waiting, worker RSS "
                f"{proc_kib(worker.pid, 'VmRSS') / KIB:.0f} MiB, server database "
                f"{database_bytes(folder) / MIB:.0f} MiB",
                flush=True,
            )
        await asyncio.sleep(0.5)


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-waiting-") as name:
        folder = Path(name)
        (folder / "scenarios").mkdir()
        shutil.copy(SCENARIO, folder / "scenarios" / SCENARIO.name)
        settings = Settings(
            data_dir=folder,
            scenarios_dir=folder / "scenarios",
            templates_dir=REPO / "templates",
            task_queue=QUEUE,
            embedded_port=0,
        )
        store = Store(settings.store_url)
        store.create_schema()
        warm_up = [f"warm-{i}" for i in range(WARM_UP)]
        customers = [f"c{i:06d}" for i in range(count)]
        add_customers(store, warm_up + customers)
        registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
        env = await start_embedded(settings, ui=False)
        server = env.client.service_client.config.target_host
        log = folder / "worker.log"
        with log.open("ab") as out:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "worker.py", cwd=REPO, stdout=out, stderr=out,
                env=worker_env(server, folder, settings.store_url, QUEUE),
            )  # fmt: skip
        try:
            router = Router(env.client, registry, QUEUE)
            await route_all(router, warm_up)
            await settled(store, WARM_UP, worker, folder)
            await asyncio.sleep(2)
            rss_before, disk_before = proc_kib(worker.pid, "VmRSS"), database_bytes(folder)
            began = time.perf_counter()
            routing = await route_all(router, customers)
            disk_started = database_bytes(folder)
            print(
                f"started {count} in {routing:.1f}s ({count / routing:.0f}/s); server database "
                f"+{(disk_started - disk_before) / MIB:.1f} MiB so far",
                flush=True,
            )
            await settled(store, WARM_UP + count, worker, folder)
            settling = time.perf_counter() - began
            await asyncio.sleep(2)
            rss_after, peak = proc_kib(worker.pid, "VmRSS"), proc_kib(worker.pid, "VmHWM")
            disk_after = database_bytes(folder)
        except BaseException:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
                await worker.wait()
            await env.shutdown()
    rss_growth, disk_growth = (rss_after - rss_before) * KIB, disk_after - disk_before
    print(f"waiting journeys: {count} (+{WARM_UP} warm-up), {CONCURRENCY} events in flight")
    print(f"start rate: {count / routing:.0f} journeys/s ({routing:.1f}s to route every event)")
    print(f"settle rate: {count / settling:.0f} journeys/s ({settling:.1f}s until all waiting)")
    print(
        f"worker RSS (python worker.py, separate process): {rss_before / KIB:.0f} MiB before, "
        f"{rss_after / KIB:.0f} MiB after, peak {peak / KIB:.0f} MiB; "
        f"{rss_growth / count / KIB:.2f} KiB per journey"
    )
    print(
        f"server database (temporal.db + -wal + -shm): {disk_before / MIB:.1f} MiB before, "
        f"{disk_after / MIB:.1f} MiB after, +{disk_growth / MIB:.1f} MiB; "
        f"{disk_growth / count / KIB:.1f} KiB per journey"
    )
    per_journey = max(disk_growth / count, 1.0)
    print(f"ratio={DISK_BUDGET / per_journey:.2f}  (64 KiB server disk budget / measured)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
