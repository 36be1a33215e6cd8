"""``journeys events``: the event log's backlog (``pending``), the events Temporal refused
for good (``failed``, with the reason), and putting those back (``retry``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from journeys.cli.common import fail, open_store
from journeys.cli.tables import console

events_app = typer.Typer(help="The event log.", no_args_is_help=True)


@events_app.command("pending")
def pending(limit: Annotated[int, typer.Option(help="How many to list")] = 20) -> None:
    """Events stored but not routed yet (Temporal or the worker unreachable), oldest first."""
    store = open_store()
    events = store.events.pending(None, limit)
    if events:
        table = Table("id", "customer", "name", "occurred at")
        for event in events:
            occurred = event.occurred_at.isoformat(timespec="seconds") if event.occurred_at else ""
            table.add_row(event.id, event.customer_id, event.name, occurred)
        console.print(table)
    console.print(f"{store.events.pending_count()} event(s) waiting to be routed")
    failed = store.events.failed(1)
    if failed:
        console.print(
            f"{store.events.failed_count()} event(s) set aside, not retried "
            f"(first: {failed[0].id}: {failed[0].failure}): see 'journeys events failed'",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@events_app.command("failed")
def failed(limit: Annotated[int, typer.Option(help="How many to list")] = 20) -> None:
    """Events Temporal refused for good (too large for it), set aside with the reason:
    their customer's later events were routed without them. Oldest first."""
    store = open_store()
    for row in store.events.failed(limit):
        at = row.failed_at.isoformat(timespec="seconds") if row.failed_at else ""
        # One line per event, however long the reason: scripts grep it.
        console.print(
            f"{row.id}  {row.customer_id}  {row.name}  failed {at}: {row.failure}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print(f"{store.events.failed_count()} event(s) set aside")


@events_app.command("retry")
def retry(
    event_ids: Annotated[list[str] | None, typer.Argument(help="Failed events' ids")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every failed event")] = False,
) -> None:
    """Put failed events back to be routed (after raising a limit, say). They are routed
    after their customer's events received since."""
    if not event_ids and not every:
        raise fail("name the failed events' ids, or --all")
    count = open_store().events.retry_failed(None if every else event_ids)
    if not count:
        raise fail("no failed event with that id")
    console.print(f"{count} event(s) back to pending: the relay routes them")
