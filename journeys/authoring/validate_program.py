"""Checks between the scenarios and the loyalty program: an audience may only name tiers
that ``loyalty.yaml`` defines and RFM segments that exist, or it would silently pick nobody."""

from __future__ import annotations

from pathlib import Path

from journeys.files.problems import Problem, ScenarioError
from journeys.files.yaml_lines import LineDict, load_yaml_file
from journeys.loyalty.program import LoyaltyProgram
from journeys.loyalty.segments import SEGMENTS
from journeys.model.scenario import Scenario

SEGMENT_NAMES = tuple(name for name, _, _ in SEGMENTS)


def load_program(path: Path) -> tuple[LoyaltyProgram | None, list[Problem]]:
    try:
        return LoyaltyProgram.load(path), []
    except ScenarioError as err:
        return None, err.problems


def check_audiences(scenarios: list[Scenario], program: LoyaltyProgram) -> list[Problem]:
    tiers = tuple(level.name for level in program.tiers.levels)
    problems = []
    for scenario in scenarios:
        audience = scenario.trigger.audience
        if audience is None:
            continue
        line = _trigger_line(scenario)
        for what, written, known, owner in (
            ("tier", audience.tier, tiers, "a tier of the loyalty program"),
            ("segment", audience.segment, SEGMENT_NAMES, "an RFM segment"),
        ):
            problems += [
                Problem(
                    scenario.source,
                    line,
                    f"audience {what} '{name}' is not {owner} ({', '.join(known)})",
                )
                for name in written or []
                if name not in known
            ]
    return problems


def _trigger_line(scenario: Scenario) -> int:
    try:
        raw = load_yaml_file(Path(scenario.source))
    except ValueError:  # unreadable or not YAML: a YamlSyntaxError
        return 1
    return raw.line_of("trigger") if isinstance(raw, LineDict) else 1
