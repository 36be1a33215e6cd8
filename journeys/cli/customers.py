"""``journeys customers``: import customer files and look at one customer.

``journeys.cli.main`` is imported inside the commands: it registers this sub-app, so importing
it at the top would be circular.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from journeys.cli.common import command_settings, fail, open_store
from journeys.cli.tables import console
from journeys.files.problems import ScenarioError
from journeys.loyalty.counters import CounterRule
from journeys.model.channels import CHANNELS
from journeys.model.profile import PROFILE_FIELDS
from journeys.process.clock import utcnow

if TYPE_CHECKING:
    from journeys.store import Store


customers_app = typer.Typer(
    help="Customer profiles: import a CSV or JSON Lines file, show one customer.",
    no_args_is_help=True,
)

DELIVERIES_SHOWN = 10


@customers_app.command("import")
def import_customers(
    file: Annotated[Path, typer.Argument(help="customers.csv (header row) or customers.jsonl")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows even if some are bad")
    ] = False,
) -> None:
    """Create or update customers from a file; every row is checked before any is written.

    Exit status 0 when every row was imported. 1 when any row was bad: without
    --skip-invalid nothing is imported, with it the good rows are, and the bad ones are
    still listed (a script must notice that its file was not fully taken).
    """
    from journeys.customers.imports import ImportFileError, check_file, write_file

    store = open_store()
    try:
        checked = check_file(file)
        bad = len(checked.bad_lines)
        if bad and not skip_invalid:
            _print_problems(checked.problems)
            console.print(
                f"[red]{bad} invalid row(s) in {escape(str(file))}: nothing imported[/] "
                "(fix them, or pass --skip-invalid to import the other rows)",
                soft_wrap=True,
            )
            raise typer.Exit(1)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=checked.good)
            imported, created = write_file(
                file, store, checked, on_batch=lambda count: progress.advance(task, count)
            )
    except ImportFileError as err:
        raise fail(str(err)) from None
    if bad:
        _print_problems(checked.problems)
        console.print(f"[yellow]{bad} invalid row(s) skipped[/]")
    console.print(
        f"imported {imported} customers ({created} created, {imported - created} updated) "
        f"from {file}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if bad:
        raise typer.Exit(1)


def _print_problems(problems: list[Any]) -> None:
    for problem in problems:
        # one FILE:LINE: field: sentence per line, however long: editors and CI parse it
        console.print(str(problem), highlight=False, markup=False, soft_wrap=True)


@customers_app.command()
def show(
    customer_id: Annotated[str, typer.Argument(metavar="ID", help="Customer id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """One customer: profile, consent and who last changed it, attributes, loyalty (with the
    referral code and counts), deliveries."""
    from journeys.loyalty.program import LoyaltyProgram

    settings = command_settings()
    store = open_store(settings)
    try:
        counters = LoyaltyProgram.load(settings.loyalty_file).counters
    except ScenarioError as err:  # the rest of the report is still worth showing
        console.print(f"[yellow]counters not shown: loyalty.yaml has problems[/]\n{err}")
        counters = {}
    report = customer_report(store, customer_id, counters)
    if report is None:
        raise fail(f"no customer '{customer_id}'")
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False, default=_plain))
        return
    _print_report(report)


def customer_report(
    store: Store, customer_id: str, counters: Mapping[str, CounterRule] | None = None
) -> dict[str, Any] | None:
    """Everything ``show`` prints, as plain data (the ``--json`` output); ``counters``:
    ``loyalty.yaml``'s, shown as of now."""
    row = store.customers.row(customer_id)
    if row is None:
        return None
    last_change = {change.channel: change for change in store.consent.changes(customer_id)}
    consent = {}
    for channel in CHANNELS:
        change = last_change.get(channel)
        consent[channel] = {
            "granted": bool((row.consent or {}).get(channel, False)),
            "changed_at": change.created_at if change else None,
            "source": change.source if change else None,
        }
    report: dict[str, Any] = {
        "id": row.id,
        "profile": {
            name: getattr(row, name)
            for name in PROFILE_FIELDS
            if name != "consent"  # shown with its changes below
        }
        | {"last_seen_at": row.last_seen_at, "created_at": row.created_at}
        | {"updated_at": row.updated_at},
        "consent": consent,
        "attributes": dict(row.attributes or {}),
    }
    # Loyalty is optional: a store without these tables (or an older one) still shows the rest.
    if hasattr(store, "points"):
        report["points"] = _plain(store.points.summary(customer_id, utcnow()))
    if hasattr(store, "loyalty"):
        report["tier"] = _plain(store.loyalty.tier_of(customer_id))
        report["segment"] = _plain(store.loyalty.segment_of(customer_id))
    if hasattr(store, "badges"):
        report["badges"] = store.badges.of(customer_id)
        report["counters"] = store.counters.current(customer_id, counters or {}, utcnow())
    if hasattr(store, "referrals"):  # the code is made on first ask, this one included
        report["referral"] = _plain(store.referrals.summary(customer_id))
    deliveries = store.ledger.for_customer(customer_id)[-DELIVERIES_SHOWN:]
    report["deliveries"] = [
        {
            "at": d.created_at,
            "scenario_id": d.scenario_id,
            "step_id": d.step_id,
            "channel": d.channel,
            "status": d.status,
            "provider_status": d.provider_status,
        }
        for d in reversed(deliveries)  # newest first
    ]
    return report


def _plain(value: Any) -> Any:
    """JSON-ready: rows, dataclasses and dates from whatever the loyalty methods return."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    return str(value)


def _print_report(report: dict[str, Any]) -> None:
    console.rule(f"customer {escape(report['id'])}")
    _print_pairs("profile", report["profile"])
    consent = Table(title="consent", title_justify="left")
    for column in ("channel", "granted", "last change", "source"):
        consent.add_column(column)
    for channel, state in report["consent"].items():
        consent.add_row(
            channel,
            "yes" if state["granted"] else "no",
            _text(state["changed_at"]) if state["changed_at"] else "never recorded",
            escape(state["source"] or ""),
        )
    console.print(consent)
    _print_pairs("attributes", report["attributes"])
    if "badges" in report:
        console.print(f"[bold]badges:[/] {escape(', '.join(report['badges']) or 'none')}")
    for section in ("points", "tier", "segment", "counters", "referral"):
        if section in report:
            value = report[section]
            if isinstance(value, Mapping):
                _print_pairs(section, value)
            else:
                console.print(f"[bold]{section}:[/] {escape(_text(value))}")
    if not report["deliveries"]:
        console.print("[bold]deliveries:[/] none")
        return
    table = Table(title=f"last {DELIVERIES_SHOWN} deliveries, newest first", title_justify="left")
    for column in ("at", "scenario / step", "channel", "status", "provider"):
        table.add_column(column, overflow="fold")
    for d in report["deliveries"]:
        table.add_row(
            _text(d["at"]),
            escape(f"{d['scenario_id']} / {d['step_id']}"),
            d["channel"],
            escape(d["status"]),
            escape(d["provider_status"] or ""),
        )
    console.print(table)


def _print_pairs(title: str, values: Mapping[str, Any]) -> None:
    if not values:
        console.print(f"[bold]{title}:[/] none")
        return
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        table.add_row(escape(str(name)), escape(_text(value)))
    console.print(table)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return json.dumps(_plain(value), ensure_ascii=False)
