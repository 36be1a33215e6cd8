"""The API's connection to Temporal, made on first use and remade after a failure.

The API must accept events while Temporal is down (they are stored, and the relay routes
them once it is back), so nothing in the API waits for a connection at start.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.connect import client_for
from journeys.temporal.journey_list import customer_journeys
from journeys.temporal.routing import Router


class TemporalLink:
    def __init__(
        self,
        settings: Settings,
        registry: ScenarioRegistry,
        program: LoyaltyProgram,
        client: Client | None = None,
        store: Store | None = None,
    ) -> None:
        """``store``: where the router counts events (``loyalty.yaml`` counters)."""
        self.settings = settings
        self.registry = registry
        self.program = program
        self.store = store
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await client_for(self.settings)
            return self._client

    async def router(self) -> Router:
        return Router(
            await self.client(),
            self.registry,
            self.settings.task_queue,
            loyalty=self.program,
            store=self.store,
        )

    async def journeys(self, customer_id: str) -> list[dict[str, Any]]:
        """Raises ``TemporalUnreachable`` when the server cannot be asked (the API answers
        503: the client may retry), never an error that would read as a 500."""
        try:
            return await customer_journeys(await self.client(), customer_id)
        except (RPCError, RuntimeError) as err:  # RuntimeError: the SDK failing to connect
            raise TemporalUnreachable(str(err)) from err


class TemporalUnreachable(RuntimeError):
    """Temporal did not answer; what the API was asking for may work a moment later."""
