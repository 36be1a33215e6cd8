"""``journeys api-keys``: create, list, revoke."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from journeys.cli.common import fail, open_store
from journeys.cli.tables import console

keys_app = typer.Typer(help="API keys for the HTTP API's /v1 endpoints.", no_args_is_help=True)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What will use it, e.g. shop-backend")],
) -> None:
    """Create a key and print it once: only its hash is stored."""
    try:
        key, _ = open_store().access.create_key(name)
    except ValueError as err:
        raise fail(str(err)) from None
    console.print(f"API key '{name}' (shown once; store it as a secret):", highlight=False)
    print(key)


@keys_app.command("list")
def list_keys() -> None:
    """Every key's name, public part and state (never the key itself)."""
    table = Table("name", "lookup", "created", "revoked")
    for row in open_store().access.list_keys():
        revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else ""
        table.add_row(row.name, row.lookup, row.created_at.isoformat(timespec="seconds"), revoked)
    console.print(table)


@keys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The key's name or lookup part")]) -> None:
    """Revoke keys by name (or lookup part): requests with them get 401 from now on."""
    count = open_store().access.revoke_key(name)
    if not count:
        raise fail(f"no active API key named '{name}'")
    console.print(f"revoked {count} key(s) named '{name}'")
