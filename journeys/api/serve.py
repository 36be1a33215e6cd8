"""Serving the app with uvicorn inside an asyncio loop someone else owns.

``journeys up`` runs the API beside the Temporal worker in one event loop, and the tests run
it beside their own code: ``serving`` starts ``uvicorn.Server.serve()`` as a task and stops it
when the block ends. The socket is bound first, in the caller, so a busy port is a plain
``ApiUnavailable`` before anything else starts (uvicorn itself would ``sys.exit`` from inside
the task). Signals stay with the host process: it decides when to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from journeys.api.temporal_link import TemporalLink
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.relay import Relay, relaying


class ApiUnavailable(RuntimeError):
    """The API cannot listen where it was told to (port in use, address not local)."""


@dataclass(frozen=True)
class Serving:
    url: str  # e.g. http://127.0.0.1:8080
    port: int


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take SIGINT/SIGTERM and re-raise them after its own shutdown; the
        # host process (``journeys up``, a test) owns signals and stops us through ``serving``.
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ApiUnavailable(
            f"the API cannot listen on {host}:{port} ({err.strerror or err}): "
            "set JOURNEYS_API_PORT (or JOURNEYS_API_HOST) to a free one"
        ) from None
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str, port: int) -> AsyncIterator[Serving]:
    """Serves ``app`` on host:port for as long as the block runs."""
    sock = bind(host, port)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        lifespan="off",  # nothing to start: routers hold no resources of their own
        log_config=None,  # the process's logging setup applies
        log_level="warning",
        access_log=False,  # unsubscribe URLs carry tokens: handlers log what matters
        timeout_graceful_shutdown=5,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="journeys-api")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise ApiUnavailable(f"the API on {host}:{bound_port} stopped while starting")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield Serving(url=f"http://{shown}:{bound_port}", port=bound_port)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@contextlib.asynccontextmanager
async def serving_api(
    settings: Settings, store: Store | None = None, client: Client | None = None
) -> AsyncIterator[Serving]:
    """The production app over the configured store, on JOURNEYS_API_HOST:JOURNEYS_API_PORT,
    with the relay that routes the events it stores (connecting to Temporal when it can)."""
    from journeys.api.app import create_app, load_registry

    store = store or Store(settings.store_url)
    await asyncio.to_thread(store.create_schema)
    registry = load_registry(settings)
    program = LoyaltyProgram.load(settings.loyalty_file)
    link = TemporalLink(settings, registry, program, client, store=store)
    relay = Relay(store, link.router)
    app = create_app(settings, store, registry=registry, temporal=link, relay=relay)
    async with serving(app, settings.api_host, settings.api_port) as served, relaying(relay):
        yield served
