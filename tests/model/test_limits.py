"""Bounds on durations, offsets, schedules and points: `journeys validate` names each
file:line, the registry refuses a scenario built in code past them, loyalty.yaml too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.authoring.validate import validate_paths
from journeys.authoring.validate_program import load_program
from journeys.files.problems import ScenarioError
from journeys.model.durations import DurationError, parse_duration

HEAD = "id: a\nname: A\ntrigger: {event: signed.up}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("templates").mkdir()
    Path("scenarios").mkdir()
    return tmp_path


def check(text: str) -> list[str]:
    Path("scenarios/a.yaml").write_text(dedent(text), encoding="utf-8")
    _, problems = validate_paths([Path("scenarios")], Path("templates"))
    return [str(p) for p in problems]


TEN_YEARS = "must be at most 3653d (10 years)"


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        pytest.param(
            "steps:\n  - wait: 999999999d\n",
            f"scenarios/a.yaml:5: step 'wait-1': 'wait' {TEN_YEARS}, not 999999999d",
            id="wait",
        ),
        pytest.param(
            "steps:\n  - wait: 1000000000d\n",
            "scenarios/a.yaml:5: step 'wait-1': '1000000000d' is too long a duration to "
            "mean anything",
            id="wait-past-timedelta",
        ),
        pytest.param(
            "steps:\n  - wait: 99999999999999999999999w\n",
            "scenarios/a.yaml:5: step 'wait-1': '99999999999999999999999w' is not a duration: "
            "the number is too long",
            id="wait-digits",
        ),
        pytest.param(
            "steps:\n"
            "  - wait_until: {at: \"'2030-01-01'\", offset: -999999999d, time: '10:00'}\n",
            f"scenarios/a.yaml:5: step 'wait_until-1': 'offset' {TEN_YEARS} either way, "
            "not -999999999d",
            id="offset",
        ),
        pytest.param(
            "steps:\n  - wait_for: {id: w, event: x, timeout: 999999999d}\n",
            f"scenarios/a.yaml:5: step 'w': 'timeout' {TEN_YEARS}, not 999999999d",
            id="timeout",
        ),
        pytest.param(
            "entry:\n  reentry: {once_per: 999999999d}\nsteps: [exit]\n",
            f"scenarios/a.yaml:5: 'entry': 'once_per' {TEN_YEARS}, not 999999999d",
            id="once_per",
        ),
        pytest.param(
            "goal: {event: x, within: 999999999d}\nsteps: [exit]\n",
            f"scenarios/a.yaml:4: 'goal': 'within' {TEN_YEARS}, not 999999999d",
            id="goal-within",
        ),
        pytest.param(
            "steps:\n  - update: {points: 99999999999999999999}\n",
            "scenarios/a.yaml:5: step 'update-1': points must be between -10,000,000 and "
            "10,000,000, not 99,999,999,999,999,999,999",
            id="points",
        ),
        pytest.param(
            "steps:\n  - update: {points: -10000001}\n",
            "scenarios/a.yaml:5: step 'update-1': points must be between -10,000,000 and "
            "10,000,000, not -10,000,001",
            id="negative-points",
        ),
    ],
)
def test_validate_names_each_bound_at_its_line(project: Path, lines: str, problem: str) -> None:
    assert check(HEAD + lines) == [problem]


SCHEDULED = "id: a\nname: A\ntrigger:\n  schedule: {%s}\n  audience: {%s}\nsteps: [exit]\n"


@pytest.mark.parametrize(
    ("schedule", "audience", "problem"),
    [
        pytest.param(
            "cron: '99 99 * * *'",
            "birthday: today",
            "scenarios/a.yaml:4: 'trigger': '99 99 * * *' is not a cron line Temporal can "
            "run: minute '99' is outside 0-59",
            id="cron-out-of-range",
        ),
        pytest.param(
            "cron: '0 0 31 2 *'",
            "birthday: today",
            "scenarios/a.yaml:4: 'trigger': '0 0 31 2 *' never fires: no date has that day "
            "of month, month and weekday",
            id="cron-never-fires",
        ),
        pytest.param(
            "every: 999999999d",
            "birthday: today",
            "scenarios/a.yaml:4: 'trigger': 'every' must be between 1m and 366d (a year), "
            "not 999999999d",
            id="every-too-long",
        ),
        pytest.param(
            "every: 30s",
            "birthday: today",
            "scenarios/a.yaml:4: 'trigger': 'every' must be between 1m and 366d (a year), "
            "not 30s",
            id="every-too-often",
        ),
        pytest.param(
            "every: 1d",
            "inactive: 999999999d",
            f"scenarios/a.yaml:5: 'trigger': 'inactive' {TEN_YEARS}, not 999999999d",
            id="audience-window",
        ),
    ],
)
def test_validate_names_schedule_bounds(
    project: Path, schedule: str, audience: str, problem: str
) -> None:
    assert check(SCHEDULED % (schedule, audience)) == [problem]


def test_the_bounds_themselves_are_accepted(project: Path) -> None:
    text = (
        "id: a\nname: A\ntrigger: {event: x}\nentry: {reentry: {once_per: 3653d}}\n"
        "goal: {event: y, within: 3653d}\nsteps:\n  - wait: 3653d\n"
        "  - wait_until: {at: \"'2030-01-01'\", offset: -3653d}\n"
        "  - wait_for: {id: w, event: z, timeout: 3653d}\n"
        "  - update: {points: 10000000}\n  - update: {points: -10000000}\n"
    )
    assert check(text) == []
    for every in ("1m", "366d"):
        assert check(SCHEDULED % (f"every: {every}", "birthday: today")) == []


def test_loyalty_file_durations_are_bounded(project: Path) -> None:
    Path("loyalty.yaml").write_text(
        dedent(
            """\
            points:
              pending: -1d
              expiry: {after: 999999999d}
            tiers:
              window: 0d
              levels: [{name: member, min_spend: 0}]
            rfm: {window: 99999w}
            """
        ),
        encoding="utf-8",
    )
    program, problems = load_program(Path("loyalty.yaml"))
    assert program is None
    assert [str(p) for p in problems] == [
        "loyalty.yaml:2: points.pending: 'pending' cannot be negative (got -1d)",
        f"loyalty.yaml:3: points.expiry.after: 'after' {TEN_YEARS}, not 999999999d",
        "loyalty.yaml:5: tiers.window: 'window' must be longer than zero",
        f"loyalty.yaml:7: rfm.window: 'window' {TEN_YEARS}, not 99999w",
    ]


def test_the_registry_refuses_a_scenario_built_in_code_past_the_bounds() -> None:
    """A scenario that never went through a file (a tool, a test, a copy with changes) meets
    the same bounds when the registry admits it: the router only starts what it holds."""
    scenario = parse_scenario(
        HEAD + "steps:\n  - wait: 1d\n  - update: {points: 5}\n", "scenarios/a.yaml"
    )
    wait, points = scenario.steps
    changed = scenario.model_copy(
        update={
            "steps": [
                wait.model_copy(update={"duration": timedelta(days=999_999_999)}),
                points.model_copy(update={"points": 10**20}),
            ]
        }
    )
    assert ScenarioRegistry([scenario]).get("a") is scenario
    with pytest.raises(ScenarioError) as refused:
        ScenarioRegistry([changed])
    assert [str(p) for p in refused.value.problems] == [
        f"scenarios/a.yaml:5: step 'wait-1': 'wait' {TEN_YEARS}, not 999999999d",
        "scenarios/a.yaml:6: step 'update-2': points must be between -10,000,000 and "
        "10,000,000, not 100,000,000,000,000,000,000",
    ]


@pytest.mark.parametrize("text", ["1000000000d", "99999999999w", "9" * 5000 + "s"])
def test_durations_beyond_any_date_are_a_plain_error(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
