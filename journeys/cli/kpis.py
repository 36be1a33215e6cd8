"""``journeys kpis``: the loyalty program's KPIs as tables a marketer reads, or as the JSON
``GET /v1/kpis`` answers (``--json``), from the same store part (``journeys.store.kpis``).

Dates are UTC midnights (``--until 2026-12-01`` ends with 30 November); a full RFC 3339
moment with an offset is taken too. A bad option exits 2 with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, cast

import typer
from pydantic import TypeAdapter
from rich.table import Table

from journeys.cli.common import command_settings, fail, open_store
from journeys.cli.tables import console
from journeys.files.problems import ScenarioError
from journeys.loyalty.program import LoyaltyProgram
from journeys.store.kpi_figures import KpiFigures, KpiReport
from journeys.store.kpi_groups import GROUPINGS
from journeys.store.kpi_periods import INTERVALS, KpiInputError

DASH = "\u2013"  # an en dash: a figure with nothing to divide by
OPTIONS = {"since": "--since", "until": "--until", "by": "--by", "series": "--series"}


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a date (2026-11-01) or a moment with an offset "
            "(2026-11-01T10:00:00Z)",
            param_hint=f"'{option}'",
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"'{text}' has no offset: add Z or +01:00, or give a date", param_hint=f"'{option}'"
        )
    return moment


def _choice(names: tuple[str, ...]) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is not None and value not in names:
            raise typer.BadParameter(f"'{value}' is not one of {', '.join(names)}")
        return value

    return check


def kpis(
    since: Annotated[
        str | None,
        typer.Option(help="From this date or moment (default: 30 days before --until)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Until this date or moment, excluded (default: now)")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Per tier or RFM segment, as held at --until", callback=_choice(GROUPINGS)
        ),
    ] = None,
    series: Annotated[
        str | None,
        typer.Option(help="Also per UTC day, week or month", callback=_choice(INTERVALS)),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON, for machines")] = False,
) -> None:
    """Members, activity, orders, points, CLV and NPS of the loyalty program over a period."""
    from journeys.process.clock import utcnow

    end = _moment(until, "--until") or utcnow()
    start = _moment(since, "--since") or end - timedelta(days=30)
    settings = command_settings()
    try:
        program = LoyaltyProgram.load(settings.loyalty_file)
    except ScenarioError as err:
        raise fail(str(err)) from None
    store = open_store(settings)
    try:
        report = store.kpis.report(
            start, end, by=cast(Any, by), series=cast(Any, series), program=program
        )
    except KpiInputError as err:
        raise typer.BadParameter(str(err), param_hint=f"'{OPTIONS[err.field]}'") from None
    if as_json:
        typer.echo(TypeAdapter(KpiReport).dump_json(report, indent=2).decode())
        return
    for table in report_tables(report):
        console.print(table)


def report_tables(report: KpiReport) -> list[Table]:
    """The whole period (a column per group with --by), then each line as a series."""
    period = f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
    columns = [("all", report.overall)] + [(_name(g.group), g.figures) for g in report.groups]
    tables = [_table(f"Program KPIs, {period}", columns, report.lifetime_years)]
    if report.buckets:
        lines = [("all", None)] + [(_name(g.group), g.group) for g in report.groups]
        for n, (label, _) in enumerate(lines):
            series = [
                (
                    _bucket_label(b.since, report.series),
                    b.overall if n == 0 else b.groups[n - 1].figures,
                )
                for b in report.buckets
            ]
            title = f"By {report.series}, {label}" + (f" ({report.by})" if n else "")
            tables.append(_table(title, series, report.lifetime_years))
    return tables


def _name(group: str | None) -> str:
    return group if group is not None else "(none)"


def _bucket_label(since: datetime, interval: str | None) -> str:
    return f"{since:%Y-%m}" if interval == "month" else f"{since:%Y-%m-%d}"


def _count(value: Any) -> str:
    return f"{value:,}"


def _percent(value: Any) -> str:
    return DASH if value is None else f"{value * 100:.1f} %"


def _money(value: Any) -> str:
    return DASH if value is None else f"{value:,.2f}"


def _number(value: Any) -> str:
    return DASH if value is None else f"{value:.2f}"


def _nps(value: Any) -> str:
    return DASH if value is None else f"{value:+.1f}" if value else "0.0"


ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("members", "members", _count),
    ("active members", "active_members", _count),
    ("active-member ratio", "active_member_ratio", _percent),
    ("purchases", "purchases", _count),
    ("revenue", "revenue", _money),
    ("purchase frequency", "purchase_frequency", _number),
    ("average order value", "average_order_value", _money),
    ("repeat-purchase rate", "repeat_purchase_rate", _percent),
    ("points earned", "points_earned", _count),
    ("points redeemed", "points_redeemed", _count),
    ("points expired", "points_expired", _count),
    ("redemption rate", "redemption_rate", _percent),
    ("breakage", "breakage", _percent),
    ("estimated CLV", "clv", _money),
    ("NPS", "nps", _nps),
    ("NPS answers", "nps_responses", _count),
]


def _table(title: str, columns: list[tuple[str, KpiFigures]], lifetime: float) -> Table:
    table = Table(title=title, caption=f"CLV over a {lifetime:g}-year lifetime (loyalty.yaml)")
    table.add_column("")
    for label, _ in columns:
        table.add_column(label, justify="right")
    for label, field, shown in ROWS:
        table.add_row(label, *(shown(getattr(figures, field)) for _, figures in columns))
    return table
