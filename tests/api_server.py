"""The API on a real socket for tests: uvicorn on a free loopback port, httpx talking to it.

The same ``serving`` helper ``journeys up`` uses; no TestClient, no mocked transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from journeys.api import create_app, serving
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.process.settings import Settings
from journeys.store import Store

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
