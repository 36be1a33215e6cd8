"""Tables a person reads: outbox, journey status, simulated timelines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from journeys.model.journey_state import JourneyState
from journeys.store.tables import OutboxMessage

console = Console()
if not console.is_terminal:  # piped or captured: 80 columns would fold every message
    console = Console(width=140)


def _short(text: str | None, size: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _offset(moment: datetime, origin: datetime | None) -> str:
    if origin is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    minutes = int((moment - origin).total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    return f"+{days}d {minutes // 60:02d}h{minutes % 60:02d}"


def outbox_table(messages: Iterable[OutboxMessage], origin: datetime | None = None) -> Table:
    table = Table(title="Messages that went out (outbox)", show_lines=True)
    for column in ("journey time", "customer", "scenario / step", "channel", "to", "message"):
        table.add_column(column, overflow="fold")
    for m in messages:
        body = (
            f"[bold]{escape(m.subject)}[/bold]\n{escape(_short(m.text, 160))}"
            if m.subject
            else escape(_short(m.text, 160))
        )
        table.add_row(
            _offset(m.journey_time, origin),
            m.customer_id,
            f"{m.scenario_id} / {m.step_id}",
            f"{m.channel} ({m.locale or 'default'})",
            m.recipient or "",
            body,
        )
    return table


def status_table(states: Iterable[tuple[str, JourneyState | str]]) -> Table:
    table = Table(title="Journeys")
    for column in ("workflow", "status", "step", "waiting", "entries", "messages"):
        table.add_column(column, overflow="fold")
    for workflow_id, state in states:
        if isinstance(state, str):
            table.add_row(workflow_id, escape(state), "", "", "", "")
            continue
        waiting = ""
        if state.waiting_for:
            waiting = f"{state.waiting_for} until {state.waiting_until:%Y-%m-%d %H:%M}"
        elif state.waiting_until:
            waiting = f"until {state.waiting_until:%Y-%m-%d %H:%M} UTC"
        messages = ", ".join(f"{m.step_id}:{m.channel or m.status}" for m in state.messages)
        status = escape(state.status + (f" ({state.exit_reason})" if state.exit_reason else ""))
        table.add_row(
            workflow_id, status, state.current_step or "", waiting, str(state.entries), messages
        )
    return table


def timeline_table(state: JourneyState) -> Table:
    origin = state.timeline[0].at if state.timeline else None
    table = Table(title=f"{state.scenario_id} for {state.customer_id}: {state.status}")
    table.add_column("virtual time")
    table.add_column("step")
    table.add_column("what happened", overflow="fold")
    for entry in state.timeline:
        table.add_row(_offset(entry.at, origin), escape(entry.step_id), escape(entry.note))
    return table
