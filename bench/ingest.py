"""Events/s through the HTTP API (POST /v1/events/batch and POST /v1/events) vs bare
signal-with-start calls, on one embedded dev server, measured until every event is routed.

The API side is the real thing over a loopback socket: API key check, validation, the
event stored in SQLite before the 202, then the relay routing it (signal-with-start of
the journey it triggers) and marking it routed; the clock stops when nothing is pending.
The bare side makes the same signal-with-start calls directly. Journeys start on a task
queue no worker polls, so only ingestion is measured. Rounds alternate the order
(bare, batch, single, then single, batch, bare) so a server that slows as it fills weighs
on all three alike. Last line: ``ratio=`` for the batch endpoint.

    python bench/ingest.py          # 3,000 events per side
    python bench/ingest.py 10000
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from temporalio.client import Client

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bare_starts import bare_starts  # noqa: E402

from journeys.api import create_app, serving  # noqa: E402
from journeys.api.temporal_link import TemporalLink  # noqa: E402
from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.authoring.scenario_file import load_scenario  # noqa: E402
from journeys.loyalty.program import LoyaltyProgram  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.model.journey_state import JourneyInput  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.relay import CONCURRENT_CUSTOMERS, Relay, relaying  # noqa: E402

QUEUE = "bench-ingest"  # nobody polls it
BATCH = 500
PROPS = {"cart_total": 42.0, "currency": "EUR", "item_count": 1, "cart_url": "https://x.example"}


def events(prefix: str, count: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"{prefix}-{i}",
            "customer_id": f"{prefix}-c{i}",
            "name": "cart.updated",
            "properties": PROPS,
        }
        for i in range(count)
    ]


async def drained(store: Store) -> None:
    while await asyncio.to_thread(store.events.pending_count):
        await asyncio.sleep(0.05)


async def via_batch(http: httpx.AsyncClient, store: Store, items: list[dict[str, object]]) -> float:
    began = time.perf_counter()
    for start in range(0, len(items), BATCH):
        answer = await http.post("/v1/events/batch", json={"events": items[start : start + BATCH]})
        answer.raise_for_status()
    await drained(store)
    return time.perf_counter() - began


async def via_single(
    http: httpx.AsyncClient, store: Store, items: list[dict[str, object]]
) -> float:
    gate = asyncio.Semaphore(CONCURRENT_CUSTOMERS)

    async def post(item: dict[str, object]) -> None:
        async with gate:
            (await http.post("/v1/events", json=item)).raise_for_status()

    began = time.perf_counter()
    await asyncio.gather(*(post(item) for item in items))
    await drained(store)
    return time.perf_counter() - began


async def bare(client: Client, journey: JourneyInput, items: list[dict[str, object]]) -> float:
    events = [Event.model_validate(item) for item in items]
    return await bare_starts(client, journey, events, QUEUE, concurrency=CONCURRENT_CUSTOMERS)


async def main(count: int) -> None:
    scenario = load_scenario(REPO / "bench" / "cart_reminder.yaml")
    registry = ScenarioRegistry([scenario])
    journey = JourneyInput(scenario=scenario, customer_id="")
    totals = {"bare": 0.0, "batch": 0.0, "single": 0.0}
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder:
        settings = Settings(data_dir=Path(folder), task_queue=QUEUE)
        store = Store(settings.store_url)
        store.create_schema()
        key, _ = store.access.create_key("bench")
        env = await start_embedded(settings.model_copy(update={"embedded_port": 0}), ui=False)
        try:
            link = TemporalLink(settings, registry, LoyaltyProgram(), env.client)
            relay = Relay(store, link.router, interval=0.05)
            app = create_app(settings, store, registry=registry, temporal=link, relay=relay)
            async with (
                relaying(relay),
                serving(app, "127.0.0.1", 0) as served,
                httpx.AsyncClient(
                    base_url=served.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
                ) as http,
            ):
                half = count // 2
                for number, order in enumerate(
                    (("bare", "batch", "single"), ("single", "batch", "bare"))
                ):
                    for side in order:
                        items = events(f"{side}{number}", half)
                        if side == "bare":
                            seconds = await bare(env.client, journey, items)
                        elif side == "batch":
                            seconds = await via_batch(http, store, items)
                        else:
                            seconds = await via_single(http, store, items)
                        totals[side] += seconds
                        print(
                            f"round {number + 1}, {side}: {half / seconds:.0f} events/s", flush=True
                        )
        finally:
            await env.shutdown()
    rate = {side: 2 * (count // 2) / seconds for side, seconds in totals.items()}
    print(
        f"events per side: {2 * (count // 2)}, {CONCURRENT_CUSTOMERS} in flight, batches of {BATCH}"
    )
    print(f"bare signal-with-start: {rate['bare']:.0f} events/s")
    for side, label in (("batch", "POST /v1/events/batch:"), ("single", "POST /v1/events:")):
        print(f"{label:<24}{rate[side]:.0f} events/s, ratio {rate[side] / rate['bare']:.2f}")
    print(f"ratio={rate['batch'] / rate['bare']:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
