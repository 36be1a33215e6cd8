"""The API on a real socket for tests: uvicorn on a free loopback port, httpx talking to it.

The same ``serving`` helper ``journeys up`` uses; no TestClient, no mocked transport.
``ingest_api`` adds what ingestion needs: the relay to the session's Temporal server, a key.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from journeys.api import create_app, serving
from journeys.api.temporal_link import TemporalLink
from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.relay import Relay, relaying

UNSUBSCRIBE = UnsubscribeSettings(
    secret_key="test-only-unsubscribe-secret-0123456789abcdef",
    public_url="https://journeys.example.com",
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@asynccontextmanager
async def api_client(
    store: Store, settings: Settings | None = None, **app_options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose ``base_url`` is the app served on 127.0.0.1:<free port>."""
    app_options.setdefault("unsubscribe_settings", UNSUBSCRIBE)
    app = create_app(settings or Settings(), store, **app_options)
    async with (
        serving(app, "127.0.0.1", 0) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
    ):
        yield client


@asynccontextmanager
async def ingest_api(
    store: Store, settings: Settings, registry: ScenarioRegistry, temporal: WorkflowEnvironment
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The API with its relay, on the session's server; yields (client, a fresh API key)."""
    link = TemporalLink(settings, registry, LoyaltyProgram(), temporal.client)
    relay = Relay(store, link.router, interval=0.2, max_pause=1.0)
    key, _ = store.access.create_key(f"test-{uuid.uuid4().hex[:6]}")
    async with (
        relaying(relay),
        api_client(store, settings, registry=registry, temporal=link, relay=relay) as client,
    ):
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, key
