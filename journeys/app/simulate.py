"""``journeys simulate``: one scenario, one customer, a timed list of events, in virtual time.

Runs on a private in-memory Temporal server with per-workflow time skipping and a private
store in a temporary folder, through the production worker and router: the timeline is
exactly what a real journey would do, and nothing is sent anywhere (the outbox is the only
channel and it is thrown away afterwards).

The private server is a child process: it is stopped however the simulation ends — its
result, an error, or a cancellation (``journeys simulate`` turns Ctrl-C and SIGTERM into
one), even one that comes while the server is still starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.files.yaml_lines import YamlSyntaxError, load_yaml_file
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.durations import parse_duration
from journeys.model.events import Event
from journeys.model.journey_state import JourneyState, TimelineEntry
from journeys.model.profile import PROFILE_FIELDS
from journeys.model.scenario import Scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.store.tables import OutboxMessage
from journeys.temporal.embedded import start_time_skipping
from journeys.temporal.routing import Router
from worker import build_worker


class SimulationInputError(ValueError):
    pass


@dataclass
class TimedEvent:
    at: timedelta
    name: str
    properties: dict[str, Any]


@dataclass
class Simulation:
    state: JourneyState
    messages: list[OutboxMessage]
    # What failed at run time, as the marketer should read it: a step's error (recorded in
    # the timeline) or the journey's own failure. Empty: the scenario ran as written.
    errors: list[str] = field(default_factory=list)


def _load(path: Path) -> Any:
    """The file's YAML, read with the scenario files' guards (readable, size, encoding, no
    aliases, bounded nesting), so a bad input is one ``file:line`` sentence."""
    try:
        return load_yaml_file(path)
    except YamlSyntaxError as err:
        raise SimulationInputError(str(err.problem(str(path)))) from None


def read_customer(path: Path) -> dict[str, Any]:
    data = _load(path)
    if not isinstance(data, dict):
        raise SimulationInputError(f"{path}: a customer file is a mapping (id, email, ...)")
    # checked here, before a server starts, so a typo names the file instead of a traceback
    unknown = set(data) - {"id", "attributes", *PROFILE_FIELDS}
    if unknown:
        raise SimulationInputError(
            f"{path}: unknown customer field(s) {sorted(unknown)}; "
            f"known: id, attributes, {', '.join(PROFILE_FIELDS)}"
        )
    data.setdefault("id", "simulated-customer")
    return data


def read_events(path: Path) -> list[TimedEvent]:
    """Events as ``- {at: 30m, name: order.completed, properties: {...}}``, in any order."""
    data = _load(path)
    if not isinstance(data, list) or not data:
        raise SimulationInputError(f"{path}: an events file is a non-empty list of events")
    events = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict) or "name" not in item:
            raise SimulationInputError(f"{path}: event {index} needs at least a 'name'")
        unknown = set(item) - {"at", "name", "properties"}
        if unknown:
            raise SimulationInputError(f"{path}: event {index} has unknown keys {sorted(unknown)}")
        try:
            at = parse_duration(str(item.get("at", "0m")))
        except ValueError as err:
            raise SimulationInputError(f"{path}: event {index}: {err}") from err
        events.append(TimedEvent(at, str(item["name"]), dict(item.get("properties") or {})))
    return sorted(events, key=lambda e: e.at)


async def simulate(
    scenario: Scenario,
    customer: dict[str, Any],
    events: list[TimedEvent],
    templates_dir: Path,
    program: LoyaltyProgram | None = None,
) -> Simulation:
    """``program``: loyalty.yaml's rules, so purchases earn points and counters count in
    the simulation as they would for real (the challenges read them)."""
    program = program or LoyaltyProgram()
    with tempfile.TemporaryDirectory(prefix="journeys-simulate-") as folder:
        settings = Settings(
            data_dir=Path(folder), templates_dir=templates_dir, task_queue="simulate"
        )
        store = Store(settings.store_url)
        store.create_schema()
        profile = dict(customer)
        customer_id = str(profile.pop("id"))
        attributes = profile.pop("attributes", {})
        store.customers.upsert(customer_id, attributes=attributes, **profile)
        async with (
            private_server() as env,
            build_worker(env.client, settings, store=store, program=program),
        ):
            registry = ScenarioRegistry([scenario])
            router = Router(env.client, registry, settings.task_queue, loyalty=program, store=store)
            driver = JourneyDriver(env, router, store)  # type: ignore[arg-type]
            state, failure = await _play(driver, scenario.id, customer_id, events)
            errors = [_error(e) for e in state.timeline if _is_error(e)]
            errors += [failure] if failure else []
            return Simulation(state, store.outbox.for_customer(customer_id), errors)


@contextlib.asynccontextmanager
async def private_server() -> AsyncIterator[WorkflowEnvironment]:
    """The simulation's own in-memory server, stopped however the block ends.

    Starting is shielded: a cancellation that arrives while the server process comes up
    would otherwise leave it running with nobody holding it, so the start is awaited to
    its end and the server stopped before the cancellation goes on.
    """
    starting = asyncio.ensure_future(start_time_skipping())
    try:
        env = await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await starting).shutdown()
        raise
    try:
        yield env
    finally:
        await env.shutdown()


def _is_error(entry: TimelineEntry) -> bool:
    """A failed step's note (the "end" note repeats it as the exit reason)."""
    return entry.note.startswith("error") and entry.step_id != "end"


def _error(entry: TimelineEntry) -> str:
    """A failed step's timeline note ("error: ...", "error in entry.if, ...") as one line."""
    if entry.step_id == "entry":
        return entry.note.removeprefix("error in ")
    return f"at step '{entry.step_id}': {entry.note.removeprefix('error: ')}"


async def _play(
    driver: JourneyDriver, scenario_id: str, customer_id: str, events: list[TimedEvent]
) -> tuple[JourneyState, str]:
    """The journey's final state, and why the journey itself failed ("" when it did not)."""
    elapsed = timedelta(0)
    started = False
    for number, timed in enumerate(events):
        if started and timed.at > elapsed and await driver.running(scenario_id, customer_id):
            await driver.idle(scenario_id, customer_id)
            try:
                await driver.advance(scenario_id, customer_id, timed.at - elapsed)
            except RPCError:  # it ended meanwhile (not entered, or done): no clock to move
                if await driver.running(scenario_id, customer_id):
                    raise
        elapsed = max(elapsed, timed.at)
        event = Event(
            id=f"sim-{number}",
            name=timed.name,
            customer_id=customer_id,
            properties=timed.properties,
        )
        result = await driver.router.route(event)
        started = started or scenario_id in result.started_or_signalled
    if not started:
        raise SimulationInputError(f"no event in the list triggers scenario '{scenario_id}'")
    try:
        return await driver.finish(scenario_id, customer_id), ""
    except WorkflowFailureError as err:  # the timeline up to the failure, and its reason
        cause = err.cause
        reason = cause.message if isinstance(cause, FailureError) else str(err)
        return await driver.state(scenario_id, customer_id), f"the journey failed: {reason}"
