"""``journeys validate`` on counters and badges: loyalty.yaml's ``counters`` (names, keys,
events, window bounds) and scenarios that read a counter loyalty.yaml does not declare,
each as file:line; the CLI end to end."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from typer.testing import CliRunner

from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.validate import validate_paths
from journeys.authoring.validate_program import load_program
from journeys.cli.main import app
from journeys.files.problems import ScenarioError

TEN_YEARS = "must be at most 3653d (10 years)"


def write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(dedent(text), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_counter_declarations_are_checked_with_their_line(project: Path) -> None:
    write(
        {
            "loyalty.yaml": """\
            purchase_event: purchase
            counters:
              visits: {event: store.visit}
              Visits-2: {event: store.visit}
              items: {event: store.visit}
              purchases: {event: purchase, windw: 30d}
              forever: {event: purchase, window: 99999d}
              never: {event: purchase, window: 0d}
              typo: {event: "purchase made"}
              blank: {}
            """
        }
    )
    program, problems = load_program(Path("loyalty.yaml"))
    assert program is None
    assert [str(p) for p in problems] == [
        "loyalty.yaml:4: counters.Visits-2.[key]: counter name 'Visits-2' must be lower-case "
        "letters, digits and _, starting with a letter, at most 64 characters (it is read as "
        "counters.<name>)",
        "loyalty.yaml:5: counters.items.[key]: counter name 'items' is taken: counters.items "
        "is a method",
        "loyalty.yaml:6: counters.purchases.windw: Extra inputs are not permitted",
        f"loyalty.yaml:7: counters.forever.window: 'window' {TEN_YEARS}, not 99999d",
        "loyalty.yaml:8: counters.never.window: 'window' must be longer than zero",
        "loyalty.yaml:9: counters.typo.event: 'purchase made' is not an event name (letters, "
        "digits and . _ : -, 1-100 characters)",
        "loyalty.yaml:10: counters.blank.event: Field required",
    ]


def test_a_valid_declaration_loads(project: Path) -> None:
    write(
        {
            "loyalty.yaml": "counters:\n  visits: {event: store.visit}\n"
            "  p: {event: purchase, window: 30d}\n"
        }
    )
    program, problems = load_program(Path("loyalty.yaml"))
    assert problems == [] and program is not None
    assert program.counters["p"].window is not None and program.counters["visits"].window is None


SCENARIO = """\
id: tenth-visit
name: Tenth visit
trigger: {event: store.visit}
entry:
  if: "counters.visit % 10 == 0"
steps:
  - update: {badge: regular}
  - send: {id: hello, channel: sms, template: msg/visits}
"""


def test_reading_an_undeclared_counter_is_an_error_with_its_line(project: Path) -> None:
    write(
        {
            "scenarios/tenth.yaml": SCENARIO,
            "templates/msg/visits.sms.j2": "{% block text %}\nVisit {{ counters.visits }}, "
            "{{ counters.purchases }} purchases{% endblock %}",
        }
    )
    _, problems = validate_paths([Path("scenarios")], Path("templates"), ["visits"])
    assert [str(p) for p in problems] == [
        'scenarios/tenth.yaml:5: entry.if "counters.visit % 10 == 0" fails with the sample '
        "data: 'dict object' has no attribute 'visit'",
        "templates/msg/visits.sms.j2:2: template 'msg/visits' (sms) fails with the sample data "
        "of scenario 'tenth-visit': 'dict object' has no attribute 'purchases'",
    ]
    # Without loyalty.yaml's names (a registry loaded alone) any counter reads as a count.
    assert validate_paths([Path("scenarios")], Path("templates"))[1] == []


def test_a_badge_name_is_checked_with_its_line(project: Path) -> None:
    write({"scenarios/bad.yaml": SCENARIO.replace("{badge: regular}", "{badge: Not A Slug}")})
    _, problems = validate_paths([Path("scenarios")], Path("templates"), ["visits"])
    assert [str(p) for p in problems] == [
        "scenarios/bad.yaml:7: step 'update-1': badge 'Not A Slug' must be 1-64 lower-case "
        "letters, digits and . _ -, starting with a letter or digit",
    ]


def test_the_shipped_program_and_scenarios_validate() -> None:
    repo = Path(__file__).resolve().parents[2]
    program, problems = load_program(repo / "loyalty.yaml")
    assert problems == [] and program is not None
    assert set(program.counters) == {"visits", "purchases_30d"}
    scenarios, problems = validate_paths(
        [repo / "scenarios"], repo / "templates", list(program.counters)
    )
    assert problems == [] and "purchase-challenge" in {s.id for s in scenarios}


def test_the_cli_and_the_registry_check_counters_against_loyalty_yaml(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        {
            "loyalty.yaml": "counters:\n  visits: {event: store.visit}\n",
            "scenarios/tenth.yaml": SCENARIO,
            "templates/msg/visits.sms.j2": "{% block text %}Visit {{ counters.visits }}"
            "{% endblock %}",
        }
    )
    monkeypatch.setenv("JOURNEYS_SCENARIOS_DIR", "scenarios")
    monkeypatch.setenv("JOURNEYS_TEMPLATES_DIR", "templates")
    monkeypatch.setenv("JOURNEYS_LOYALTY_FILE", "loyalty.yaml")

    result = CliRunner().invoke(app, ["validate"])

    assert result.exit_code == 1
    assert "scenarios/tenth.yaml:5: entry.if" in result.output and "'visit'" in result.output
    with pytest.raises(ScenarioError, match="no attribute 'visit'"):
        ScenarioRegistry.load(Path("scenarios"), Path("templates"), ["visits"])
    Path("scenarios/tenth.yaml").write_text(SCENARIO.replace("counters.visit ", "counters.visits "))
    assert CliRunner().invoke(app, ["validate"]).exit_code == 0
