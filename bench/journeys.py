"""Journeys/s: a scenario interpreted from a file vs a hand-written workflow of the same shape.

Both run on one embedded dev server (SQLite, WAL — the embedded default's settings, on a
private file and ports), through the production worker wiring and the same deliver
activity, with time skipping so the one-hour timer costs nothing. Rounds alternate
(interpreted, bare, interpreted, bare, ...) so machine noise hits both alike. Each round
also prints the CPU milliseconds per journey of this process (routing or starting, the
worker, its activities) and of the server (from /proc): far steadier than journeys/s on a
shared machine, and they say which process pays for a difference.

    python bench/journeys.py            # N=300 per round, 2 rounds each
    python bench/journeys.py 1000 3     # N, rounds
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bare_workflow import BareCartReminder  # noqa: E402
from worker_processes import cpu_seconds, server_pid  # noqa: E402

from activities import build_activities  # noqa: E402
from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.authoring.scenario_file import load_scenario  # noqa: E402
from journeys.delivery.governance import Governance  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.rendering.templating import Expressions, Templates  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402
from worker import build_worker, precompile  # noqa: E402

CONCURRENCY = 100


async def measured(count: int, run: Awaitable[float], server: int) -> tuple[float, float, float]:
    """The round's journeys/s, and CPU ms per journey of this process and of the server."""
    own, theirs = time.process_time(), cpu_seconds(server)
    rate = await run
    own_ms = (time.process_time() - own) * 1000 / count
    return rate, own_ms, (cpu_seconds(server) - theirs) * 1000 / count


async def _bounded(calls: list[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def interpreted_round(client: Client, router: Router, customers: list[str]) -> float:
    started = time.perf_counter()
    await _bounded(
        [
            lambda c=c: router.route(
                Event(
                    id=uuid.uuid4().hex,
                    name="cart.updated",
                    customer_id=c,
                    properties={
                        "cart_total": 42.0,
                        "currency": "EUR",
                        "item_count": 1,
                        "cart_url": "https://x",
                    },
                )
            )
            for c in customers
        ]
    )
    await _bounded(
        [
            lambda c=c: client.get_workflow_handle(f"journey/bench-cart-reminder/{c}").result()
            for c in customers
        ]
    )
    return len(customers) / (time.perf_counter() - started)


async def bare_round(client: Client, customers: list[str]) -> float:
    started = time.perf_counter()
    handles = []

    async def start(customer: str) -> None:
        event = Event(
            id=uuid.uuid4().hex,
            name="cart.updated",
            customer_id=customer,
            properties={
                "cart_total": 42.0,
                "currency": "EUR",
                "item_count": 1,
                "cart_url": "https://x",
            },
        )
        handles.append(
            await client.start_workflow(
                BareCartReminder.run,
                customer,
                id=f"bare/{customer}",
                task_queue="bench-bare",
                start_signal="event",
                start_signal_args=[event],
            )
        )

    await _bounded([lambda c=c: start(c) for c in customers])
    await _bounded([lambda h=h: h.result() for h in handles])
    return len(customers) / (time.perf_counter() - started)


async def main(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder:
        settings = Settings(
            data_dir=Path(folder), templates_dir=REPO / "templates", task_queue="bench"
        )
        store = Store(settings.store_url)
        store.create_schema()
        env = await start_embedded(settings.model_copy(update={"embedded_port": 0}), ui=False)
        skipping = TimeSkipper(env.client, config=TimeSkippingConfig(enabled=True)).client
        registry = ScenarioRegistry([load_scenario(REPO / "bench" / "cart_reminder.yaml")])
        router = Router(skipping, registry, settings.task_queue)
        governance = Governance.from_settings()  # the production defaults, for both sides
        precompile(sys.modules[BareCartReminder.__module__])  # as build_worker does for journeys
        bare_worker = Worker(
            env.client,
            task_queue="bench-bare",
            workflows=[BareCartReminder],
            activities=build_activities(
                store, Templates(settings.templates_dir), Expressions(), governance=governance
            ),
        )
        server = server_pid()
        interpreted: list[float] = []
        bare: list[float] = []
        try:
            async with (
                build_worker(env.client, settings, store=store, governance=governance),
                bare_worker,
            ):
                warm_up = [f"warm-up-{i}" for i in range(30)]
                await interpreted_round(skipping, router, warm_up)
                await bare_round(skipping, warm_up)
                for number in range(rounds):
                    customers = [f"bench-{number}-{i}" for i in range(count)]
                    for customer in customers:
                        store.customers.upsert(
                            customer, email=f"{customer}@example.com", consent={"email": True}
                        )
                    rate, own, theirs = await measured(
                        count, interpreted_round(skipping, router, customers), server
                    )
                    interpreted.append(rate)
                    print(
                        f"round {number + 1}: interpreted {rate:.1f} journeys/s "
                        f"(CPU per journey: this process {own:.1f} ms, server {theirs:.1f} ms)",
                        flush=True,
                    )
                    rate, own, theirs = await measured(
                        count, bare_round(skipping, customers), server
                    )
                    bare.append(rate)
                    print(
                        f"round {number + 1}: bare {rate:.1f} journeys/s "
                        f"(CPU per journey: this process {own:.1f} ms, server {theirs:.1f} ms)",
                        flush=True,
                    )
        finally:
            await env.shutdown()
    best_interpreted, best_bare = max(interpreted), max(bare)
    print(f"journeys per round: {count}, rounds: {rounds}, concurrency: {CONCURRENCY}")
    print(f"interpreted (bench/cart_reminder.yaml): {best_interpreted:.1f} journeys/s, best round")
    print(f"hand-written (bench/bare_workflow.py): {best_bare:.1f} journeys/s, best round")
    print(f"ratio={best_interpreted / best_bare:.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [300, 2][len(args) :])))
