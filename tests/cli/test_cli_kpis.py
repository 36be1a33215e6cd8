"""``journeys kpis``: a bad option exits 2 naming it; a bad ``kpis`` section of
loyalty.yaml is reported with its line. (The figures themselves: tests/api/test_api_kpis.py
compares the command's JSON with the API's, tests/store/test_kpis.py checks each one.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.files.problems import ScenarioError
from journeys.loyalty.program import LoyaltyProgram
from journeys.store import Store


@pytest.mark.parametrize(
    ("options", "named", "why"),
    [
        ("--since 2026-13-01", "--since", "is not a date"),
        ("--until 2026-12-01T00:00:00", "--until", "has no offset"),
        ("--since 2026-12-01 --until 2026-09-01", "--until", "must be after since"),
        ("--since 2026-12-01 --until 2026-12-01", "--until", "must be after since"),
        ("--by city", "--by", "'city' is not one of tier, segment"),
        ("--series hour", "--series", "'hour' is not one of day, week, month"),
        ("--since 2000-01-01 --until 2026-12-01 --series day", "--series", "more than 1000"),
    ],
)
def test_a_bad_option_exits_2_naming_it(data: Store, options: str, named: str, why: str) -> None:
    result = CliRunner().invoke(app, ["kpis", *options.split()], env={"COLUMNS": "200"})

    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())  # rich wraps the panel's lines
    assert named in said and why in said, said


def test_a_bad_lifetime_in_loyalty_yaml_names_its_line(data: Store) -> None:
    Path("loyalty.yaml").write_text("rfm: {window: 365d}\nkpis:\n  lifetime_years: 0\n")

    with pytest.raises(ScenarioError) as refused:
        LoyaltyProgram.load(Path("loyalty.yaml"))
    assert str(refused.value) == (
        "loyalty.yaml:3: kpis.lifetime_years: Input should be greater than 0"
    )
    result = CliRunner().invoke(app, ["kpis"], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "loyalty.yaml:3: kpis.lifetime_years" in result.output


def test_without_options_the_last_30_days_are_shown(data: Store) -> None:
    result = CliRunner().invoke(app, ["kpis"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "Program KPIs" in result.output and "CLV over a 3-year lifetime" in result.output
