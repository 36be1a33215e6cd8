"""``journeys stats [SCENARIO]``: each scenario's funnel as a table a marketer reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from journeys.cli.common import command_settings, one_scenario, open_store, scenario_registry
from journeys.cli.tables import console
from journeys.store.funnels import Funnel


def stats(
    scenario_id: Annotated[str | None, typer.Argument(help="One scenario (default: all)")] = None,
    days: Annotated[int, typer.Option(help="Entries that began in the last N days")] = 30,
) -> None:
    """How each scenario performs, step by step, from recorded facts and the delivery ledger."""
    from journeys.process.clock import utcnow

    settings = command_settings()
    if scenario_id is not None:
        chosen = [one_scenario(settings, scenario_id)]
    else:
        chosen = list(scenario_registry(settings).scenarios.values())
    store = open_store(settings)
    until = utcnow()
    for scenario in sorted(chosen, key=lambda s: s.id):
        console.print(
            funnel_table(store.journeys.funnel(scenario, until - timedelta(days=days), until))
        )


def funnel_table(funnel: Funnel) -> Table:
    exits = ", ".join(f"{reason}: {n}" for reason, n in sorted(funnel.exited.items())) or "0"
    caption = (
        f"entered {funnel.entered} · running {funnel.running} · completed {funnel.completed} · "
        f"exited {exits} · goal {funnel.goal_converted}"
    )
    table = Table(
        "step",
        "kind",
        "waiting now",
        "sent",
        "suppressed",
        "failed",
        "in flight",
        title=f"{funnel.scenario_id}: entries {funnel.since:%Y-%m-%d} to {funnel.until:%Y-%m-%d}",
        caption=caption,
    )
    for step in funnel.steps:
        sending = step.kind == "send"
        table.add_row(
            step.step_id,
            step.kind,
            str(step.waiting_now) if step.kind.startswith("wait") else "",
            str(step.sent) if sending else "",
            _by_reason(step.suppressed) if sending else "",
            _by_reason(step.failed) if sending else "",
            str(step.in_flight) if sending else "",
        )
    return table


def _by_reason(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))
