"""`journeys validate` on survey links and answer branches: the sample ``survey_url`` refuses
what the real one refuses, and ``sample.last_event`` stands for the awaited answer."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.validate import validate_paths
from journeys.rendering.context import sample_context

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "sample: {last_event: {score: 9, survey: test}}\n"

ASK = """\
{% block subject %}How did we do?{% endblock %}
{% block html %}{% for n in range(11) %}<a href="{{ survey_url(n) }}">{{ n }}</a>{% endfor %}
{% endblock %}
{% block text %}{{ survey_url(SCORE) }}{% endblock %}
"""
ANSWERED = """\
  - send: {id: ask, channel: email, template: nps/ask}
  - wait_for:
      id: answer
      event: nps.answered
      where: "last_event.survey == 'test'"
      timeout: 7d
  - if: "last_event.score >= 9"
    then: [exit: promoter]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(dedent(text), encoding="utf-8")


def scenario(steps: str, head: str = "") -> str:
    top = "id: test\nname: Test\ntrigger: {event: order.delivered}\n"
    return top + head + "steps:\n" + steps


def check() -> list[str]:
    _, problems = validate_paths([Path("scenarios")], Path("templates"))
    return [str(p) for p in problems]


def test_survey_links_render_in_validation(project: Path) -> None:
    write({"templates/nps/ask.email.j2": ASK.replace("SCORE", "10")})
    write({"scenarios/a.yaml": scenario(ANSWERED, SAMPLE)})
    assert check() == []


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("11", "score must be a whole number from 0 to 10, not 11"),
        ("-1", "score must be a whole number from 0 to 10, not -1"),
        ("'9'", "score must be a whole number from 0 to 10, not '9'"),
        ("9.5", "score must be a whole number from 0 to 10, not 9.5"),
        ("0, survey=''", "survey must be a non-empty text, not ''"),
    ],
)
def test_a_bad_survey_link_fails_validation_at_its_template_line(
    project: Path, bad: str, why: str
) -> None:
    write({"templates/nps/ask.email.j2": ASK.replace("SCORE", bad)})
    write({"scenarios/a.yaml": scenario(ANSWERED, SAMPLE)})
    assert check() == [
        "templates/nps/ask.email.j2:4: template 'nps/ask' (email) fails with the sample "
        f"data of scenario 'test': survey_url: {why}"
    ]


def test_without_a_sample_answer_the_answer_branches_fail_validation(project: Path) -> None:
    write({"templates/nps/ask.email.j2": ASK.replace("SCORE", "10")})
    write({"scenarios/a.yaml": scenario(ANSWERED)})
    assert check() == [
        "scenarios/a.yaml:6: step 'answer': where \"last_event.survey == 'test'\" fails with "
        "the sample data: 'dict object' has no attribute 'survey'",
        "scenarios/a.yaml:11: step 'if-3': if \"last_event.score >= 9\" fails with the "
        "sample data: 'dict object' has no attribute 'score'",
    ]


def test_the_sample_last_event_is_last_event_and_the_trigger_stays_event() -> None:
    registry = ScenarioRegistry.load(REPO / "scenarios", REPO / "templates")
    context = sample_context(registry.get("nps-survey"))
    assert context["last_event"]["score"] == 9
    assert context["event"]["order_id"] == "A-1042"
    assert context["survey_url"](3) == "https://journeys.example.com/s/sample-nps-survey-3"
    vip = sample_context(registry.get("vip-invite"))
    assert vip["last_event"] == vip["event"]  # no sample answer: the trigger, as before
