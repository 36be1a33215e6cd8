"""Heartbeats while an activity waits on a slow provider.

With a heartbeat timeout, Temporal notices a dead worker within seconds instead of after
the whole start-to-close timeout, and retries the delivery on another worker (where the
ledger's reserved row and the provider's idempotency key prevent a second message).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")
INTERVAL_SECONDS = 2.0


async def keep_alive(work: Awaitable[T], interval: float = INTERVAL_SECONDS) -> T:
    """Awaits ``work``, heartbeating every ``interval`` seconds until it finishes."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    beating = asyncio.create_task(beat())
    try:
        return await work
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
