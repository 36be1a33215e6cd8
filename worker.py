"""The worker process: runs journeys and their activities on the task queue.

``build_worker`` is the one place the production wiring is assembled; ``journeys up``,
``python worker.py``, the tests and the benchmarks all use it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import py_compile
import signal
from collections.abc import Callable
from types import ModuleType
from typing import Any

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.plugin import SimplePlugin
from temporalio.worker import Worker

import workflows.audience_scan
import workflows.coupon_step
import workflows.journey
import workflows.local_calls
import workflows.loyalty
import workflows.steps
from activities import build_activities
from activities.audience import AudienceActivities
from activities.channels.base import ChannelAdapter
from activities.channels.selection import adapters_from_settings, closing
from activities.loyalty import LoyaltyActivities
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.validate_program import check_audiences
from journeys.delivery.governance import Governance
from journeys.files.problems import ScenarioError
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.leave import leave
from journeys.process.logs import configure_logging
from journeys.process.settings import Settings, SettingsError, load_settings
from journeys.rendering.templating import Expressions, Templates
from journeys.store import Store
from journeys.temporal.connect import connect, ensure_search_attributes
from journeys.temporal.relay import Relay, relaying
from journeys.temporal.routing import Router
from journeys.temporal.schedules import sync_schedules
from workflows.audience_scan import AudienceScanWorkflow
from workflows.journey import JourneyWorkflow
from workflows.loyalty import LoyaltyDailyWorkflow, PurchaseWorkflow

log = logging.getLogger("journeys.worker")


def precompile(*modules: ModuleType) -> None:
    """Writes the bytecode of workflow modules once, at start.

    The workflow sandbox re-imports workflow modules for every journey it runs. Under
    PYTHONDONTWRITEBYTECODE (set in many container images, and on our CI machines) no
    ``.pyc`` exists, so each of those imports recompiled the source: 2.4 s of CPU per 1,390
    journeys in bench/journeys.py. With the bytecode written here, imports just read it.
    """
    for module in modules:
        source = module.__file__
        if not source:
            continue
        try:
            py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True)
        except (OSError, py_compile.PyCompileError) as err:  # read-only install: slower, fine
            log.warning("could not write bytecode for %s: %s", source, err)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    adapters: dict[str, ChannelAdapter] | None = None,
    store: Store | None = None,
    governance: Governance | None = None,
    registry: ScenarioRegistry | None = None,
    program: LoyaltyProgram | None = None,
) -> Worker:
    """The production worker. Tests pass ``adapters`` to put a real fault or sink in the path,
    and ``governance`` so that results do not depend on the time of day the suite runs.

    The scenario folder and the loyalty program are loaded (and fully validated) here:
    audience scans start journeys and the loyalty program emits tier events, both from
    activities. A folder with any problem stops the worker with every problem listed.
    """
    precompile(
        workflows.journey,
        workflows.steps,
        workflows.coupon_step,
        workflows.local_calls,
        workflows.audience_scan,
        workflows.loyalty,
    )
    store = store or Store(settings.store_url)
    store.create_schema()
    registry = registry or ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
    program = program or LoyaltyProgram.load(settings.loyalty_file)
    mismatches = check_audiences(list(registry.scenarios.values()), program)
    if mismatches:
        raise ScenarioError(mismatches)
    router = Router(client, registry, settings.task_queue, loyalty=program)
    templates = Templates(settings.templates_dir)
    governance = governance or Governance.from_settings()
    plugins: list[SimplePlugin] = []
    if adapters is None:  # built here, so closed here once the worker has stopped
        adapters = built = adapters_from_settings(store)
        closer = SimplePlugin("journeys.channels", run_context=lambda: closing(built.values()))
        plugins.append(closer)
    log.info(
        "channels: %s", ", ".join(f"{c}={type(a).__name__}" for c, a in sorted(adapters.items()))
    )
    activities = build_activities(store, templates, Expressions(), adapters, governance, program)
    activities += build_program_activities(store, registry, program, router)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow, AudienceScanWorkflow, PurchaseWorkflow, LoyaltyDailyWorkflow],
        activities=activities,
        plugins=plugins,
    )


def build_program_activities(
    store: Store, registry: ScenarioRegistry, program: LoyaltyProgram, router: Router
) -> list[Callable[..., Any]]:
    """The audience scan's and the loyalty program's activities (they need a Temporal client)."""
    scans = AudienceActivities(store, registry, router)
    loyalty = LoyaltyActivities(store, program, router)
    return [
        scans.scan_audience_page,
        loyalty.apply_purchase,
        loyalty.settle_points,
        loyalty.review_tiers_page,
        loyalty.score_rfm,
        loyalty.apply_rfm_page,
    ]


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    await ensure_search_attributes(client)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
        log.info("metrics on http://127.0.0.1:%d/metrics", settings.metrics_port)
    registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
    program = LoyaltyProgram.load(settings.loyalty_file)
    worker = build_worker(client, settings, registry=registry, program=program)
    await sync_schedules(client, registry, settings.task_queue)
    log.info(
        "worker on %s, namespace %s, task queue %s, store %s",
        client.service_client.config.target_host,
        settings.temporal_namespace,
        settings.task_queue,
        settings.store_url_shown,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    # The worker routes what the store holds unrouted too (derived events, or events an API
    # process stored and could not route): with no API process running, nothing is stuck.
    router = Router(client, registry, settings.task_queue, loyalty=program)

    async def same_router() -> Router:
        return router

    relay = Relay(Store(settings.store_url), same_router)
    async with worker, relaying(relay):  # leaving drains in-flight activities, then stops
        await stop.wait()
        log.info("stopping: finishing in-flight work")
    log.info("worker stopped")


def main() -> None:
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as err:
        raise SystemExit(f"bad setting: {err}") from None
    if not settings.templates_dir.is_dir():
        raise SystemExit(
            f"templates folder {settings.templates_dir.resolve()} does not exist: "
            "run from the project folder or set JOURNEYS_TEMPLATES_DIR"
        )
    try:
        asyncio.run(run_worker(settings))
    except ScenarioError as err:
        raise SystemExit(f"the scenarios or the loyalty program have problems:\n{err}") from None
    except SettingsError as err:  # e.g. a provider's settings, read when its adapter is built
        raise SystemExit(f"bad setting: {err}") from None
    leave(0)  # stopped cleanly: exit 0 even if the SDK's runtime would abort at finalization


if __name__ == "__main__":
    main()
