"""``journeys coupons``: import a pool of codes, list a customer's coupons.

An import is checked whole before anything is written (bad codes, codes given twice, codes
another pool or an issued coupon already has, each as ``file:line``), and importing the
same file again adds nothing: a script can re-run it safely.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from journeys.cli.common import fail, open_store
from journeys.cli.tables import console
from journeys.process.clock import utcnow

coupons_app = typer.Typer(
    help="Coupons: import a pool of codes, list a customer's coupons.", no_args_is_help=True
)


@coupons_app.command("import")
def import_codes(
    file: Annotated[Path, typer.Argument(help="One code per line, or a CSV (first column)")],
    pool: Annotated[str, typer.Option("--pool", help="The pool a coupon step names")],
) -> None:
    """Add codes to a pool; with any problem nothing is imported (exit status 1)."""
    from journeys.loyalty.coupon_codes import POOL_NAME, read_code_lines

    if not POOL_NAME.match(pool):
        raise fail(
            f"--pool '{escape(pool)}' is not a pool name: 1-100 letters, digits, '.', '_' or '-'"
        )
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"{escape(str(file))}: cannot be read as UTF-8 text ({err})") from None
    codes, problems = read_code_lines(lines, str(file))
    if not problems and not codes:
        problems = [f"{file}:1: the file has no codes"]
    store = open_store()
    if not problems:
        report = store.coupons.import_pool(pool, codes, utcnow())
        problems = [f"{where}: {why}" if where else why for where, why in report.problems]
    if problems:
        for problem in problems:
            console.print(escape(problem), highlight=False)
        raise fail(f"{len(problems)} problem(s): nothing was imported")
    total, free = store.coupons.pool_counts(pool)
    console.print(
        f"pool {escape(pool)}: {report.added} code(s) added, {report.already} already there; "
        f"{total} in the pool, {free} unused",
        highlight=False,
    )


@coupons_app.command("list")
def list_coupons(
    customer: Annotated[str, typer.Option("--customer", help="The customer's id")],
) -> None:
    """The customer's coupons, newest first: code, offer, worth, status, last day, order."""
    store = open_store()
    now = utcnow()
    table = Table("code", "offer", "worth", "status", "valid through", "order")
    for view in store.coupons.views(store.coupons.for_customer(customer), now):
        worth = (
            f"{view['percent']}%"
            if view["kind"] == "percent"
            else (f"{view['value']} {view['currency']}")
        )
        table.add_row(
            *(escape(str(v)) for v in (view["code"], view["offer"], worth, view["status"])),
            view["expires_on"],
            escape(view["order_id"] or ""),
        )
    if not table.rows:
        console.print(f"no coupons for customer '{escape(customer)}'", highlight=False)
        return
    console.print(table)
