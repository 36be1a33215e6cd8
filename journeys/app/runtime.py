"""Bringing the system up: the embedded server (or a configured cluster) plus the worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client

from journeys.authoring.registry import ScenarioRegistry
from journeys.process.settings import Settings
from journeys.temporal.connect import client_for, ensure_search_attributes
from journeys.temporal.embedded import start_embedded
from journeys.temporal.schedules import sync_schedules
from worker import build_worker

log = logging.getLogger("journeys")


@asynccontextmanager
async def temporal_server(settings: Settings, *, ui: bool = True) -> AsyncIterator[Client]:
    """The configured cluster when TEMPORAL_ADDRESS is set, else the embedded dev server."""
    if settings.temporal_address:
        client = await client_for(settings)
        await ensure_search_attributes(client)
        yield client
        return
    env = await start_embedded(settings, ui=ui)
    log.info(
        "embedded Temporal on 127.0.0.1:%s (Web UI http://127.0.0.1:%s), data in %s",
        settings.embedded_port,
        settings.embedded_ui_port,
        settings.data_dir.resolve(),
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


@asynccontextmanager
async def running(settings: Settings, *, ui: bool = True) -> AsyncIterator[Client]:
    """Server and worker, for as long as the block runs."""
    registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
    async with temporal_server(settings, ui=ui) as client:
        await sync_schedules(client, registry, settings.task_queue)
        async with build_worker(client, settings, registry=registry):
            log.info("worker polling task queue %s", settings.task_queue)
            yield client
