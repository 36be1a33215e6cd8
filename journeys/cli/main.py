"""The ``journeys`` command: what marketers and operators type."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from journeys.cli.access import keys_app
from journeys.cli.audience import audience
from journeys.cli.common import command_settings as _settings
from journeys.cli.common import fail as _fail
from journeys.cli.common import open_store as _store
from journeys.cli.common import until_interrupted
from journeys.cli.coupons import coupons_app
from journeys.cli.customers import customers_app
from journeys.cli.events import events_app
from journeys.cli.kpis import kpis
from journeys.cli.stats import stats
from journeys.cli.tables import console, outbox_table, status_table, timeline_table
from journeys.files.problems import ScenarioError
from journeys.model.events import Event
from journeys.process.leave import leave
from journeys.process.logs import configure_logging
from journeys.process.settings import SettingsError


class _Journeys(typer.Typer):
    """The console script; it leaves with the command's own exit status (``leave``).

    ``CliRunner`` in tests does not go through ``__call__``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("standalone_mode") is False:
            return super().__call__(*args, **kwargs)
        try:
            super().__call__(*args, **kwargs)
            status = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                status = done.code or 0
            else:
                print(done.code, file=sys.stderr)
                status = 1
        leave(status)


app = _Journeys(
    help="Journeys: loyalty scenarios as durable Temporal journeys.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(customers_app, name="customers")
app.command("audience")(audience)
app.command("stats")(stats)
app.command("kpis")(kpis)
app.add_typer(keys_app, name="api-keys")
app.add_typer(events_app, name="events")
app.add_typer(coupons_app, name="coupons")


def _logging(verbose: bool = False) -> None:
    configure_logging(logging.DEBUG if verbose else logging.INFO)


def _serve_until_stopped(body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Runs ``body(stop)`` until Ctrl-C or SIGTERM, then lets it shut down cleanly."""
    from journeys.api import ApiUnavailable

    async def main() -> None:
        # SIGTERM (docker stop, systemd, Kubernetes) stops like Ctrl-C: without this the
        # process dies at once and leaves the embedded Temporal server running, orphaned.
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await body(stop)

    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the same clean stop as SIGTERM
            asyncio.run(main())
    except (ApiUnavailable, SettingsError) as err:
        raise _fail(str(err)) from None
    console.print("stopped")


@app.command()
def up() -> None:
    """Start the embedded Temporal server (or use TEMPORAL_ADDRESS), the worker and the API."""
    from journeys.api import serving_api
    from journeys.app.runtime import running

    _logging()
    settings = _settings()

    async def serve(stop: asyncio.Event) -> None:
        # The API first: a busy port is reported before a Temporal server is started.
        async with serving_api(settings) as served, running(settings):
            console.print(
                f"Journeys is up. API on {served.url} (unsubscribe links, provider webhooks). "
                "Send events with 'journeys send-event'; Ctrl-C stops.",
                soft_wrap=True,
            )
            await stop.wait()

    _serve_until_stopped(serve)


@app.command()
def api() -> None:
    """Serve the HTTP API alone (unsubscribe links, provider webhooks) on JOURNEYS_API_PORT."""
    from journeys.api import serving_api

    _logging()
    settings = _settings()

    async def serve(stop: asyncio.Event) -> None:
        async with serving_api(settings) as served:
            console.print(f"Journeys API on {served.url}; Ctrl-C stops.", soft_wrap=True)
            await stop.wait()

    _serve_until_stopped(serve)


@app.command()
def worker() -> None:
    """Run the worker alone against TEMPORAL_ADDRESS (same as 'python worker.py')."""
    import worker as worker_module

    worker_module.main()


@app.command()
def demo() -> None:
    """Start everything on the embedded default and walk four customers through the scenarios."""
    from journeys.app.runtime import running
    from journeys.cli.demo import run_demo

    _logging()
    logging.getLogger("journeys.temporal.routing").setLevel(logging.WARNING)
    settings = _settings()

    async def main() -> None:
        async with running(settings) as client:
            await run_demo(client, settings)

    asyncio.run(main())


@app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Scenario files or folders")] = None,
) -> None:
    """Check scenarios and every template they use; print each problem as file:line."""
    from journeys.authoring.broadcasts import broadcast_notes
    from journeys.authoring.validate import validate_paths
    from journeys.authoring.validate_program import check_audiences, load_program
    from journeys.process.clock import utcnow

    settings = _settings()
    program, program_problems = load_program(settings.loyalty_file)
    counters = list(program.counters) if program is not None else None
    scenarios, problems = validate_paths(
        paths or [settings.scenarios_dir], settings.templates_dir, counters
    )
    problems = sorted(problems + program_problems)
    if program is not None:
        problems += check_audiences(scenarios, program)
    for problem in [*problems, *broadcast_notes(scenarios, utcnow())]:
        # soft_wrap: a file:line: message line must stay one line for editors and CI
        console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/]")
        raise typer.Exit(1)
    console.print(
        f"[green]{len(scenarios)} scenario(s) OK[/]: {', '.join(s.id for s in scenarios)}"
    )


def _property(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise typer.BadParameter(f"'{text}' is not key=value")
    key, raw = text.split("=", 1)
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command("send-event")
def send_event(
    name: Annotated[str, typer.Argument(help="Event name, e.g. cart.updated")],
    customer: Annotated[str, typer.Option(help="Customer id")],
    prop: Annotated[
        list[str] | None, typer.Option(help="Property key=value (JSON values allowed)")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--id", help="Event id (makes retries safe)")
    ] = None,
) -> None:
    """Route one customer event to the journeys it starts or that wait for it."""
    from journeys.authoring.registry import ScenarioRegistry
    from journeys.loyalty.program import LoyaltyProgram
    from journeys.model.json_values import json_problem
    from journeys.temporal.connect import TemporalUnavailable, client_for
    from journeys.temporal.ingest import ingest
    from journeys.temporal.routing import EventRefused, Router

    settings = _settings()
    properties = dict(_property(p) for p in prop or [])
    if problem := json_problem(properties):  # the API's rules: NaN, 1e400, NUL are refused
        where, why = problem
        raise typer.BadParameter(f"{where}: {why}", param_hint="--prop")
    event = Event(
        id=event_id or uuid.uuid4().hex, name=name, customer_id=customer, properties=properties
    )

    async def main() -> None:
        client = await client_for(settings)
        store = _store(settings)
        router = Router(
            client,
            ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir),
            settings.task_queue,
            loyalty=LoyaltyProgram.load(settings.loyalty_file),
            store=store,
        )
        result = await ingest(store, router, event, max_bytes=settings.max_event_bytes)
        console.print(f"event {event.id} ({name}) for {customer}")
        console.print(f"  started or signalled: {', '.join(result.started_or_signalled) or '-'}")
        console.print(f"  signalled (listening): {', '.join(result.signalled) or '-'}")
        if result.not_running:
            console.print(f"  not running (ignored): {', '.join(result.not_running)}")
        if result.counters:
            counts = ", ".join(f"{name}={value}" for name, value in result.counters.items())
            console.print(f"  counters: {counts}")
        if result.loyalty:
            console.print("  loyalty program: purchase (points, tier)")

    try:
        asyncio.run(main())
    except (TemporalUnavailable, ScenarioError, EventRefused) as err:
        raise _fail(str(err)) from None


@app.command()
def status(customer: Annotated[str, typer.Option(help="Customer id")]) -> None:
    """The customer's journeys and where each one is."""
    from temporalio.service import RPCError

    from journeys.model.journey_state import JourneyState
    from journeys.temporal.connect import TemporalUnavailable, client_for
    from journeys.temporal.journey_list import customer_journeys

    settings = _settings()

    async def main() -> list[tuple[str, JourneyState | str]]:
        client = await client_for(settings)
        found = await customer_journeys(client, customer)
        return [(row["workflow_id"], row["state"] or row["status"]) for row in found]

    try:
        rows = asyncio.run(main())
    except (TemporalUnavailable, RPCError) as err:
        raise _fail(str(err)) from None
    if not rows:
        console.print(f"no journeys for customer {customer}")
        return
    console.print(status_table(rows))


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(help="How many messages")] = 20,
    customer: Annotated[str | None, typer.Option(help="Only this customer")] = None,
) -> None:
    """The latest messages that went out through the outbox channel, rendered."""
    messages = _store().outbox.latest(limit, customer_id=customer)
    if not messages:
        console.print("the outbox is empty: run 'journeys demo' or send events")
        return
    console.print(outbox_table(messages))


@app.command()
def preview(
    scenario: Annotated[str, typer.Argument(help="Scenario id")],
    step: Annotated[str, typer.Argument(help="Id of a send step")],
    locale: Annotated[str | None, typer.Option(help="Customer locale, e.g. fr")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the HTML part to this file")] = None,
) -> None:
    """Render a send step's message with the scenario's sample data, for every channel."""
    from jinja2 import TemplateError

    from journeys.authoring.registry import ScenarioRegistry
    from journeys.model.scenario import SendStep
    from journeys.rendering.context import sample_context
    from journeys.rendering.templating import TemplateMissing, Templates

    settings = _settings()
    try:
        chosen = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir).get(scenario)
    except KeyError as err:  # str(KeyError) wraps the message in quotes
        raise _fail(str(err.args[0])) from None
    except ScenarioError as err:
        raise _fail(str(err)) from None
    sends = {s.id: s for s in chosen.walk() if isinstance(s, SendStep)}
    if step not in sends:
        raise _fail(f"scenario '{scenario}' has no send step '{step}' (sends: {', '.join(sends)})")
    context = sample_context(chosen)
    if locale:
        context["customer"] = {**context["customer"], "locale": locale}
    templates = Templates(settings.templates_dir)
    for channel in sends[step].channels:
        try:
            message = templates.render(sends[step].template, channel, locale, context)
        except (TemplateMissing, TemplateError) as err:
            raise _fail(f"{channel}: {err}") from None
        console.rule(f"{channel} · {message.template_file}")
        for part, text in message.parts.items():
            if part != "html":
                console.print(f"[bold]{part}:[/] {escape(text)}", highlight=False)
        if html and message.html:
            html.write_text(message.html, encoding="utf-8")
            console.print(f"HTML written to {html}")


@app.command()
def simulate(
    scenario: Annotated[str, typer.Argument(help="Scenario id or file")],
    customer: Annotated[Path, typer.Option(help="Customer profile file (YAML or JSON)")],
    events: Annotated[
        Path, typer.Option(help="Timed events file: - {at: 30m, name: ..., properties: {}}")
    ],
) -> None:
    """Run a scenario for one customer in virtual time, with no real sends; print the timeline."""
    from journeys.app.simulate import SimulationInputError, read_customer, read_events
    from journeys.app.simulate import simulate as run_simulation
    from journeys.authoring.registry import ScenarioRegistry
    from journeys.authoring.scenario_file import load_scenario
    from journeys.loyalty.program import LoyaltyProgram

    settings = _settings()
    try:
        path = Path(scenario)
        chosen = (
            load_scenario(path)
            if path.is_file()
            else ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir).get(scenario)
        )
        result = until_interrupted(
            run_simulation(
                chosen,
                read_customer(customer),
                read_events(events),
                settings.templates_dir,
                LoyaltyProgram.load(settings.loyalty_file),
            )
        )
    except KeyError as err:  # str(KeyError) wraps the message in quotes
        raise _fail(str(err.args[0])) from None
    except OSError as err:
        raise _fail(f"{err.filename}: {err.strerror}" if err.filename else str(err)) from None
    except (ScenarioError, SimulationInputError) as err:
        raise _fail(str(err)) from None
    console.print(timeline_table(result.state))
    origin = result.state.timeline[0].at if result.state.timeline else None
    if result.messages:
        console.print(outbox_table(result.messages, origin))
    else:
        console.print("no message would be sent")
    if result.errors:  # the scenario fails at run time with this customer's data
        for error in result.errors:
            console.print(f"[red]error:[/] {escape(error)}", soft_wrap=True)
        raise typer.Exit(1)
