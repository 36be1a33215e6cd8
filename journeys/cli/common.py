"""What every ``journeys`` command shares: the settings, the store, the scenario folder,
one way to fail (one red line, exit status 1), and one way to be interrupted."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.markup import escape

from journeys.cli.tables import console
from journeys.files.problems import ScenarioError
from journeys.process.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from journeys.authoring.registry import ScenarioRegistry
    from journeys.model.scenario import Scenario
    from journeys.store import Store

T = TypeVar("T")


def command_settings() -> Settings:
    """Settings from the environment, or one line naming the bad variable."""
    try:
        return load_settings()
    except SettingsError as err:
        raise fail(f"bad setting: {err}") from None


def open_store(config: Settings | None = None) -> Store:
    """The configured store, its schema made current: what every command reading it opens."""
    from journeys.store import Store

    store = Store((config or command_settings()).store_url)
    store.create_schema()
    return store


def scenario_registry(config: Settings) -> ScenarioRegistry:
    """The scenario folder, or one line naming what is wrong with it."""
    from journeys.authoring.registry import ScenarioRegistry

    try:
        return ScenarioRegistry.load(config.scenarios_dir, config.templates_dir)
    except ScenarioError as err:
        raise fail(str(err)) from None


def one_scenario(config: Settings, scenario_id: str) -> Scenario:
    """A scenario of the folder, or one line naming the ones there are."""
    try:
        return scenario_registry(config).get(scenario_id)
    except KeyError as err:
        raise fail(str(err).strip("'\"")) from None


def fail(message: str) -> typer.Exit:
    # soft_wrap: one message, one line, however long (paths, addresses); scripts grep it
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


class _Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def until_interrupted(work: Coroutine[Any, Any, T]) -> T:
    """Runs ``work``; the first Ctrl-C or SIGTERM cancels it, so its cleanup runs (simulate
    stops its private Temporal server) and the command exits 128 + the signal's number.

    Without this, SIGTERM killed the process at once and left the server running, and a
    second Ctrl-C during the cleanup interrupted the cleanup itself: later signals are
    ignored while it runs.
    """

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def stop(signum: int) -> None:
            if not received:
                received.append(signum)
                task.cancel()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await work
        except asyncio.CancelledError:
            if received:
                raise _Interrupted(received[0]) from None
            raise

    try:
        return asyncio.run(main())
    except _Interrupted as stopped:
        console.print(f"interrupted ({stopped}): nothing was left running")
        raise typer.Exit(128 + stopped.signum) from None
