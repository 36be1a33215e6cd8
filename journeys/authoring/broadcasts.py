"""Checks of a broadcast's moment that depend on today's date, kept out of the pure model.

A moment ten years ahead is a typo (``2207`` for ``2027``): an error, like any bound of
``journeys.model.limits``. A moment already past is only a note: the campaign file stays
valid for ever (a marketer re-validating last year's sale, or a worker starting after the
date, must not be refused), and the worker simply schedules it no more.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from journeys.files.problems import Problem
from journeys.files.yaml_lines import LineDict, load_yaml_file
from journeys.model.limits import MAX_WAIT
from journeys.model.scenario import Scenario


def _moment_line(raw: LineDict) -> int:
    trigger = raw.get("trigger")
    schedule = trigger.get("schedule") if isinstance(trigger, LineDict) else None
    if isinstance(schedule, LineDict):
        return schedule.line_of("at")
    return trigger.line if isinstance(trigger, LineDict) else raw.line_of("trigger")


def broadcast_problems(
    scenario: Scenario, raw: LineDict, file: str, now: datetime
) -> list[Problem]:
    schedule = scenario.trigger.schedule
    if schedule is None or schedule.at is None or schedule.at - now <= MAX_WAIT:
        return []
    return [
        Problem(
            file,
            _moment_line(raw),
            f"the broadcast moment {schedule.at.isoformat()} is more than ten years ahead: "
            "is the year right?",
        )
    ]


def broadcast_notes(scenarios: list[Scenario], now: datetime) -> list[Problem]:
    """Not problems: what ``journeys validate`` prints as notes (the exit status stays 0)."""
    notes = []
    for scenario in scenarios:
        schedule = scenario.trigger.schedule
        if schedule is None or schedule.at is None or schedule.at > now:
            continue
        try:
            raw = load_yaml_file(Path(scenario.source))
        except ValueError:  # unreadable or not YAML: reported as a problem already
            raw = None
        line = _moment_line(raw) if isinstance(raw, LineDict) else 1
        notes.append(
            Problem(
                scenario.source,
                line,
                f"note: the broadcast moment {schedule.at.isoformat()} is past; a worker "
                "starting now schedules it no more",
            )
        )
    return notes
