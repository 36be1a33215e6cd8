"""Nothing accepted is lost: events posted while the worker is stopped, or while the
Temporal server itself is down, are all routed once it is back, and none twice."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from journeys.api.temporal_link import TemporalLink
from journeys.app.driver import NotYet, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.governance import Governance
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.journey_state import JourneyState, journey_id
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.embedded import start_embedded
from journeys.temporal.relay import Relay, relaying
from tests.api_server import api_client
from tests.props import CART_PROPS
from worker import build_worker

CART = "abandoned-cart"


@asynccontextmanager
async def api(
    store: Store, settings: Settings, registry: ScenarioRegistry, link: TemporalLink
) -> AsyncIterator[httpx.AsyncClient]:
    relay = Relay(store, link.router, interval=0.2, max_pause=0.5)
    key, _ = store.access.create_key("no-loss")
    async with (
        relaying(relay),
        api_client(store, settings, registry=registry, temporal=link, relay=relay) as client,
    ):
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


async def post_carts(client: httpx.AsyncClient, customers: list[str]) -> None:
    """One cart event per customer, each posted twice (a client retrying): ids repeat."""
    for customer in customers:
        event = {
            "id": f"cart-{customer}",
            "customer_id": customer,
            "name": "cart.updated",
            "properties": {"cart_total": 30, **CART_PROPS},
        }
        for _ in range(2):
            assert (await client.post("/v1/events", json=event)).status_code == 202


async def entered_once(client_env: WorkflowEnvironment, customers: list[str]) -> None:
    async def check() -> None:
        for customer in customers:
            handle = client_env.client.get_workflow_handle(journey_id(CART, customer))
            try:
                state = await handle.query("state", result_type=JourneyState)
            except RPCError as err:  # the relay has not routed it yet (it backs off)
                raise NotYet(str(err)) from err
            assert state.entries == 1 and len(state.events) == 1, state

    await eventually(check, timeout=60)


async def test_events_posted_while_the_worker_is_stopped_run_once_it_starts(
    temporal: WorkflowEnvironment, store: Store, settings: Settings, registry: ScenarioRegistry
) -> None:
    offline = settings.model_copy(update={"task_queue": f"no-worker-{uuid.uuid4().hex[:6]}"})
    link = TemporalLink(offline, registry, LoyaltyProgram(), temporal.client)
    customers = [f"offline-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    async with api(store, offline, registry, link) as client:
        await post_carts(client, customers)
        async with build_worker(temporal.client, offline, store=store, governance=Governance.off()):
            await entered_once(temporal, customers)
    assert all(store.events.pending(c) == [] for c in customers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_server(folder: Path, port: int) -> WorkflowEnvironment:
    """The embedded server on its SQLite file in ``folder``, on ``port``."""
    return await start_embedded(Settings(data_dir=folder, embedded_port=port), ui=False)


async def test_events_posted_while_temporal_is_down_are_routed_when_it_is_back(
    tmp_path: Path, store: Store, settings: Settings, registry: ScenarioRegistry
) -> None:
    data, port = tmp_path, free_port()
    own = settings.model_copy(update={"task_queue": "no-loss-temporal"})
    first = await start_server(data, port)
    link = TemporalLink(own, registry, LoyaltyProgram(), first.client)
    customers = [f"down-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    async with api(store, own, registry, link) as client:
        await first.shutdown()  # the server is gone (its data stays in the SQLite file)
        await post_carts(client, customers)
        assert {e.customer_id for e in store.events.pending(None, 100)} >= set(customers)

        again = await start_server(data, port)  # back, on the same file and port
        try:
            async with build_worker(again.client, own, store=store, governance=Governance.off()):
                await entered_once(again, customers)
        finally:
            await again.shutdown()
    assert all(store.events.pending(c) == [] for c in customers)
