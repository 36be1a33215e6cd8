"""What every ``journeys`` command shares: the settings, the store, the scenario folder,
and one way to fail (one red line, exit status 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from journeys.console import console
from journeys.problems import ScenarioError
from journeys.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from journeys.registry import ScenarioRegistry
    from journeys.scenario import Scenario
    from journeys.store import Store


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
    from journeys.registry import ScenarioRegistry

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
