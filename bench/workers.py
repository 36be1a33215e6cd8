"""Journeys/s with one worker process vs two, against one embedded server and one store.

Each journey is a trigger and one email send through the outbox adapter (the governed
deliver activity: ledger reservation, consent, frequency cap, render, outbox row, ledger
mark). The workers are real ``python worker.py`` processes (the production wiring): one on
one task queue, two on another, all three started before the first round, so rounds
compare warm workers and no start-up. The store is PostgreSQL (127.0.0.1:5432, database
``test``, a fresh schema dropped afterwards): SQLite allows one writer, so two processes
would meet its busy timeout instead of each other. The Temporal server is the embedded
default (SQLite, WAL) on a private file and port.

Rounds alternate (1, 2, 2, 1, 1, 2, ...) so a server that slows as its database fills
weighs on both sides alike. A round routes N ``cart.updated`` events (64 in flight, as the
relay does) and stops the clock when N journeys have recorded their ``completed`` fact.
Each round also prints the CPU milliseconds spent per journey by the server, the worker
processes, this process (routing the events) and the whole machine (from /proc; the rest
is PostgreSQL and whatever else shares the machine), which says where the time goes.

Last line: ``ratio=`` throughput with 2 workers / with 1 (higher is better; 2.0 would
be perfect scaling).

    python bench/workers.py               # 400 journeys per round, 2 rounds per side
    python bench/workers.py 1000 3        # journeys per round, rounds per side
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, make_url, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from worker_processes import (  # noqa: E402
    add_customers,
    cpu_seconds,
    machine_busy_seconds,
    server_pid,
    worker_env,
)

from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.store.tracking_tables import JourneyFact  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402

POSTGRES = os.environ.get(
    "JOURNEYS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONCURRENCY = 64
WARM_UP = 100
SCENARIO = """\
id: bench-send
name: One email (workers benchmark)
trigger: {event: cart.updated}
steps:
  - send: {id: reminder, channel: email, template: abandoned_cart/reminder}
sample:
  event: {cart_total: 129.90, currency: EUR, item_count: 3, cart_url: "https://shop.example/cart"}
"""
CART = {"cart_total": 42.0, "currency": "EUR", "item_count": 1, "cart_url": "https://x.example"}


def fresh_schema() -> tuple[str, str]:
    schema = f"journeys_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def completed(store: Store, prefix: str) -> int:
    query = select(func.count()).where(
        JourneyFact.kind == "completed",  # type: ignore[arg-type]
        JourneyFact.customer_id.like(f"{prefix}-%"),  # type: ignore[attr-defined]
    )
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


async def run_journeys(router: Router, store: Store, prefix: str, count: int) -> float:
    ids = [f"{prefix}-{i}" for i in range(count)]
    await asyncio.to_thread(add_customers, store, ids)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(customer: str) -> None:
        async with gate:
            event = Event(
                id=uuid.uuid4().hex, name="cart.updated", customer_id=customer, properties=CART
            )
            await router.route(event)

    began = time.perf_counter()
    await asyncio.gather(*(one(c) for c in ids))
    deadline = time.monotonic() + 600
    while await asyncio.to_thread(completed, store, prefix) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{prefix}: journeys did not complete in 10 minutes")
        await asyncio.sleep(0.2)
    return time.perf_counter() - began


async def main(count: int, rounds: int) -> None:
    schema, store_url = fresh_schema()
    workers: list[asyncio.subprocess.Process] = []
    try:
        with tempfile.TemporaryDirectory(prefix="journeys-workers-") as name:
            folder = Path(name)
            (folder / "scenarios").mkdir()
            (folder / "scenarios" / "bench_send.yaml").write_text(SCENARIO, encoding="utf-8")
            settings = Settings(
                data_dir=folder, scenarios_dir=folder / "scenarios",
                templates_dir=REPO / "templates", database_url=store_url, embedded_port=0,
            )  # fmt: skip
            store = Store(store_url)
            store.create_schema()
            registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
            env = await start_embedded(settings, ui=False)
            server = env.client.service_client.config.target_host
            queues = {1: "bench-one-worker", 2: "bench-two-workers"}
            pids: dict[int, list[int]] = {1: [], 2: []}
            try:
                with (folder / "workers.log").open("ab") as out:
                    for side, queue in ((1, queues[1]), (2, queues[2]), (2, queues[2])):
                        worker = await asyncio.create_subprocess_exec(
                            sys.executable, "worker.py", cwd=REPO, stdout=out, stderr=out,
                            env=worker_env(server, folder, store_url, queue),
                        )  # fmt: skip
                        workers.append(worker)
                        pids[side].append(worker.pid)
                router = Router(env.client, registry, queues[1])
                temporal = server_pid()
                for side in (1, 2):
                    router.task_queue = queues[side]
                    await run_journeys(router, store, f"warm{side}", WARM_UP)
                seconds = {1: 0.0, 2: 0.0}
                for number in range(2 * rounds):
                    side = (1, 2, 2, 1)[number % 4]
                    router.task_queue = queues[side]
                    cpu = [
                        cpu_seconds(temporal),
                        sum(map(cpu_seconds, pids[side])),
                        time.process_time(),
                    ]
                    busy = machine_busy_seconds()
                    took = await run_journeys(router, store, f"r{number}w{side}", count)
                    seconds[side] += took
                    server_cpu = (cpu_seconds(temporal) - cpu[0]) / count * 1000
                    worker_cpu = (sum(map(cpu_seconds, pids[side])) - cpu[1]) / count * 1000
                    own_cpu = (time.process_time() - cpu[2]) / count * 1000
                    busy = machine_busy_seconds() - busy
                    machine = busy / count * 1000
                    print(
                        f"round {number + 1}, {side} worker{'s' if side > 1 else ''}: "
                        f"{count / took:.1f} journeys/s; CPU per journey: server "
                        f"{server_cpu:.1f} ms, worker{'s' if side > 1 else ''} "
                        f"{worker_cpu:.1f} ms, routing {own_cpu:.1f} ms, machine {machine:.1f} ms "
                        f"({busy / took / (os.cpu_count() or 1) * 100:.0f}% "
                        "of the cores busy)",
                        flush=True,
                    )
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    await worker.wait()
                await env.shutdown()
    finally:
        drop_schema(schema)
    rate = {side: rounds * count / seconds[side] for side in (1, 2)}
    print(f"journeys per round: {count}, rounds per side: {rounds}, {CONCURRENCY} in flight")
    print(f"1 worker process: {rate[1]:.1f} journeys/s")
    print(f"2 worker processes: {rate[2]:.1f} journeys/s")
    print(f"ratio={rate[2] / rate[1]:.2f}  (2 workers / 1 worker)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [400, 2][len(args) :])))
