"""``journeys audience``: who a scheduled scenario would pick at a given moment, without
starting anything. A marketer checks an audience before the schedule sends to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from journeys.cli.common import command_settings, fail, one_scenario, open_store
from journeys.cli.tables import console

SHOWN = 20


def audience(
    scenario_id: Annotated[str, typer.Argument(help="A scheduled scenario's id")],
    at: Annotated[
        str | None,
        typer.Option(
            help="The moment, ISO 8601 (default: a broadcast's own moment, else now); "
            "UTC if no offset"
        ),
    ] = None,
) -> None:
    """Count and list a scheduled scenario's audience (nothing is started or sent)."""

    settings = command_settings()
    scenario = one_scenario(settings, scenario_id)
    if scenario.trigger.audience is None:
        raise fail(f"scenario '{scenario_id}' is triggered by events, not by a schedule")
    try:
        broadcast = scenario.trigger.schedule.at if scenario.trigger.schedule else None
        moment = datetime.fromisoformat(at) if at else (broadcast or datetime.now(UTC))
    except ValueError:
        raise fail(f"--at '{at}' is not an ISO date and time (e.g. 2027-02-28T09:00)") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    store = open_store(settings)
    table = Table("customer", "occasion", "trigger event properties")
    total, cursor = 0, ""
    while True:
        page, cursor = store.audiences.page(scenario.trigger.audience, moment, cursor, 1000)
        for member in page[: max(0, SHOWN - total)]:
            table.add_row(member.customer_id, member.occasion, str(member.properties or ""))
        total += len(page)
        if not cursor:
            break
    if total:
        console.print(table)
    more = f" (first {SHOWN} shown)" if total > SHOWN else ""
    console.print(
        f"{total} customer(s) in the audience of {scenario_id} at {moment.isoformat()}{more}"
    )
