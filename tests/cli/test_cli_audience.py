"""`journeys audience`: a scheduled scenario's audience at a moment, nothing started."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.store import Store

REPO = Path(__file__).resolve().parents[2]


def test_the_birthday_audience_of_the_example_customers(data: Store, shipped: None) -> None:
    runner = CliRunner()
    imported = runner.invoke(app, ["customers", "import", str(REPO / "examples/customers.csv")])
    assert imported.exit_code == 0, imported.output

    # 28 Feb 2027, 20:00 UTC: Chloé's birthday in Nice (21:00 there).
    result = runner.invoke(app, ["audience", "birthday", "--at", "2027-02-28T20:00:00+00:00"])

    assert result.exit_code == 0, result.output
    assert "chloe" in result.output and "2027-02-28" in result.output
    assert result.output.rstrip().endswith(
        "1 customer(s) in the audience of birthday at 2027-02-28T20:00:00+00:00"
    )
    assert data.outbox.for_customer("chloe") == []  # a preview starts nothing


def test_an_event_scenario_has_no_audience(data: Store, shipped: None) -> None:
    result = CliRunner().invoke(app, ["audience", "abandoned-cart"])
    assert result.exit_code == 1
    assert "triggered by events, not by a schedule" in result.output
