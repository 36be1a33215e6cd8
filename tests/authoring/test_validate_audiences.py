"""`journeys validate` on broadcasts and the richer audiences: each mistake is one
`file:line: sentence` at the line where it was written; a past broadcast is only a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journeys.authoring.broadcasts import broadcast_notes
from journeys.authoring.validate import validate_paths
from journeys.model.scenario import Audience

HEAD = """\
id: sale
name: Sale
trigger:
  schedule: {schedule}
  audience:
    tier: [gold]
{audience}steps:
  - exit: done
"""


def check(tmp_path: Path, schedule: str = "{every: 1d}", audience: str = "") -> list[str]:
    (tmp_path / "templates").mkdir(exist_ok=True)
    path = tmp_path / "sale.yaml"
    path.write_text(HEAD.format(schedule=schedule, audience=audience), encoding="utf-8")
    _, problems = validate_paths([path], tmp_path / "templates")
    return [str(p).removeprefix(f"{tmp_path}/") for p in problems]


def moment(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ('{at: "2027-03-03T18:00:00"}', "sale.yaml:4: 'trigger': '2027-03-03T18:00:00' is not a "),
        ('{at: "3 March 2027"}', "sale.yaml:4: 'trigger': '3 March 2027' is not a moment"),
        ('{at: "2027-02-30T18:00:00Z"}', "sale.yaml:4: 'trigger': '2027-02-30T18:00:00Z' is not "),
        ('{at: "2027-03-03T18:00:00Z", every: 1d}', "sale.yaml:4: 'trigger': a schedule is one of"),
    ],
)
def test_a_broadcast_moment_needs_an_offset_and_a_real_date(
    tmp_path: Path, schedule: str, expected: str
) -> None:
    [problem] = check(tmp_path, schedule)
    assert problem.startswith(expected), problem


def test_a_broadcast_more_than_ten_years_ahead_is_a_typo(tmp_path: Path) -> None:
    far = moment(timedelta(days=3660))
    [problem] = check(tmp_path, f'{{at: "{far}"}}')
    assert problem == (
        f"sale.yaml:4: the broadcast moment {far} is more than ten years ahead: is the year right?"
    )
    assert check(tmp_path, f'{{at: "{moment(timedelta(days=3640))}"}}') == []


def test_a_past_broadcast_is_valid_and_noted(tmp_path: Path) -> None:
    past = moment(-timedelta(days=400))
    assert check(tmp_path, f'{{at: "{past}"}}') == []  # last year's campaign file stays valid
    scenarios, _ = validate_paths([tmp_path / "sale.yaml"], tmp_path / "templates")
    [note] = broadcast_notes(scenarios, datetime.now(UTC))
    assert str(note).endswith(
        f"sale.yaml:4: note: the broadcast moment {past} is past; a worker "
        "starting now schedules it no more"
    )
    assert broadcast_notes(scenarios, datetime.now(UTC) - timedelta(days=800)) == []


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (
            "    attributes:\n      - {name: city, equals: Paris}\n"
            "      - {name: city, like: Par}\n",
            "sale.yaml:9: 'trigger': attribute filter 'city': unknown operator 'like' (use one "
            "of equals, not, in, at_least, at_most, exists)",
        ),
        (
            "    attributes:\n      - {name: orders, at_least: '5'}\n",
            "sale.yaml:8: 'trigger': attribute filter 'orders' at_least: '5' is not a number, "
            "and only numbers compare",
        ),
        (
            "    attributes:\n      - {name: orders, at_least: 5, at_most: 9}\n",
            "sale.yaml:8: 'trigger': attribute filter 'orders' needs exactly one operator",
        ),
        (
            "    attributes:\n      - {name: city, in: []}\n",
            "sale.yaml:8: 'trigger': attribute filter 'city' in: write a list of values",
        ),
        (
            "    attributes:\n      - {name: locale, at_least: 2}\n",
            "sale.yaml:8: 'trigger': 'locale' is a text profile field",
        ),
        (
            "    attributes:\n      - {name: shoe size, equals: 42}\n",
            "sale.yaml:8: 'trigger': attribute name 'shoe size' must be a plain name",
        ),
        (
            "    events:\n      - {name: purchase, within: 4000d}\n",
            "sale.yaml:8: 'trigger': 'within' must be at most 3653d (10 years), not 4000d",
        ),
        (
            "    events:\n      - {name: purchase, within: 30d, at_least: 3, at_most: 1}\n",
            "sale.yaml:8: 'trigger': event filter 'purchase': at_most 1 is below at_least 3",
        ),
        (
            "    events:\n      - {name: purchase, within: 30d, none: true, at_least: 1}\n",
            "sale.yaml:8: 'trigger': event filter 'purchase': 'none: true' excludes at_least",
        ),
        (
            "    date_attribute: {name: renews_on, days_before: 1.5}\n",
            "sale.yaml:7: 'trigger': date_attribute days_before: 1.5 is not a whole number",
        ),
    ],
)
def test_audience_filter_mistakes_name_their_line(
    tmp_path: Path, audience: str, expected: str
) -> None:
    [problem] = check(tmp_path, audience=audience)
    assert problem.startswith(expected), problem


def test_a_snapshot_reads_back_the_same() -> None:
    """Workflow inputs carry the scenario dumped and read back: the normalized filters and
    the moment survive the round trip unchanged."""
    audience = Audience.model_validate(
        {
            "attributes": [{"name": "city", "in": ["Paris", 75]}, {"name": "vip", "not": True}],
            "events": [{"name": "purchase", "within": "90d", "at_least": 2}],
            "date_attribute": {"name": "renews_on", "days_before": 14},
        }
    )
    assert Audience.model_validate(audience.model_dump(mode="json")) == audience
    assert Audience.model_validate(audience.model_dump()) == audience
