"""The benchmarks' baseline: plain signal-with-start calls of JourneyWorkflow, bounded
concurrency, nothing else (no store, no claim, no scan)."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from journeys.model.events import Event
from journeys.model.journey_state import JourneyInput, journey_id
from journeys.temporal.routing import SIGNAL, WORKFLOW


async def bare_starts(
    client: Client,
    journey: JourneyInput,
    events: list[Event],
    task_queue: str,
    *,
    concurrency: int,
    id_prefix: str = "",
) -> float:
    """Starts (or signals) one journey per event; returns the seconds it took."""
    gate = asyncio.Semaphore(concurrency)

    async def start(event: Event) -> None:
        async with gate:
            await client.start_workflow(
                WORKFLOW,
                journey.model_copy(update={"customer_id": event.customer_id}),
                id=id_prefix + journey_id(journey.scenario.id, event.customer_id),
                task_queue=task_queue,
                start_signal=SIGNAL,
                start_signal_args=[event],
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )

    began = time.perf_counter()
    await asyncio.gather(*(start(event) for event in events))
    return time.perf_counter() - began
