"""History events per journey: the three-send cart journey (scenarios/abandoned_cart.yaml,
no order: reminder, SMS nudge, last chance) interpreted vs hand-written
(bench/bare_cart_journey.py), on one embedded dev server with time skipping.

Every event is a server write and a line a worker replays, so fewer is cheaper.
``ratio=`` is hand-written events / interpreted events (higher is better).

    python bench/history.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bare_cart_journey import BareCartJourney  # noqa: E402

from activities import build_activities  # noqa: E402
from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.authoring.scenario_file import load_scenario  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.model.journey_state import journey_id  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.rendering.templating import Expressions, Templates  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402
from worker import build_worker  # noqa: E402

SCENARIO = REPO / "scenarios" / "abandoned_cart.yaml"
CART = {"cart_total": 150.0, "currency": "EUR", "item_count": 2, "cart_url": "https://x"}


def _breakdown(history: WorkflowHistory) -> str:
    kinds = Counter(
        e.WhichOneof("attributes").removesuffix("_event_attributes") for e in history.events
    )
    return ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())


def _sends(history: WorkflowHistory) -> int:
    return sum(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)


async def interpreted(client: Client, router: Router, customer: str) -> WorkflowHistory:
    event = Event(id=uuid.uuid4().hex, name="cart.updated", customer_id=customer, properties=CART)
    await router.route(event)
    handle = client.get_workflow_handle(journey_id("abandoned-cart", customer))
    await handle.result()
    return await handle.fetch_history()


async def hand_written(client: Client, customer: str) -> WorkflowHistory:
    event = Event(id=uuid.uuid4().hex, name="cart.updated", customer_id=customer, properties=CART)
    handle = await client.start_workflow(
        BareCartJourney.run,
        customer,
        id=f"bare/{customer}",
        task_queue="history-bare",
        start_signal="event",
        start_signal_args=[event],
    )
    await handle.result()
    return await handle.fetch_history()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-history-") as folder:
        settings = Settings(
            data_dir=Path(folder), templates_dir=REPO / "templates", task_queue="history"
        )
        store = Store(settings.store_url)
        store.create_schema()
        for customer in ("interpreted", "bare"):
            store.customers.upsert(
                customer,
                email=f"{customer}@example.com",
                phone="+33600000000",
                consent={"email": True, "sms": True},
            )
        env = await start_embedded(settings.model_copy(update={"embedded_port": 0}), ui=False)
        skipping = TimeSkipper(env.client, config=TimeSkippingConfig(enabled=True)).client
        router = Router(skipping, ScenarioRegistry([load_scenario(SCENARIO)]), settings.task_queue)
        bare_worker = Worker(
            env.client,
            task_queue="history-bare",
            workflows=[BareCartJourney],
            activities=build_activities(store, Templates(settings.templates_dir), Expressions()),
        )
        try:
            async with build_worker(env.client, settings, store=store), bare_worker:
                ours = await interpreted(skipping, router, "interpreted")
                theirs = await hand_written(skipping, "bare")
        finally:
            await env.shutdown()
    for name, history in (("interpreted", ours), ("hand-written", theirs)):
        assert _sends(history) == 3, f"{name}: {_sends(history)} sends, expected 3"
        print(f"{name}: {len(history.events)} events ({_breakdown(history)})")
    print(f"ratio={len(theirs.events) / len(ours.events):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
