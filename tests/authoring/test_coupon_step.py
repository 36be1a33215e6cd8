"""The coupon step in a scenario file: its rules reported at file:line, its compiled shape
(the limit-reached path ends the entry), and templates validated against a sample coupon
only where a coupon step can have issued one."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from journeys.authoring.scenario_file import parse_scenario
from journeys.authoring.validate import validate_paths
from journeys.files.problems import ScenarioError
from journeys.model.ops import compile_steps

HEAD = "id: cpn\nname: Coupons\ntrigger: {event: signed.up}\nsteps:\n"
WITH_CODE = """\
{% block subject %}Your code {{ coupon.code }}{% endblock %}
{% block html %}<p>{{ coupon.percent }}% until {{ coupon.expires_on | date }}</p>{% endblock %}
{% block text %}{{ coupon.code }}{% endblock %}
"""


def problems(steps: str) -> list[str]:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(HEAD + dedent(steps), "s.yaml")
    return [str(problem) for problem in raised.value.problems]


def test_the_step_reads_as_written() -> None:
    scenario = parse_scenario(
        HEAD + "  - coupon: {id: v, value: 5.1, valid_for: 30d, per_customer: 2, pool: p-1}\n",
        "s.yaml",
    )
    [step] = scenario.steps
    assert step.kind == "coupon" and str(step.value) == "5.1"  # not 5.0999...
    assert step.offer_name("cpn") == "cpn/v" and step.per_customer == 2


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{id: v, valid_for: 30d}", "a coupon is worth either 'percent' (1-100) or 'value'"),
        ("{id: v, percent: 10, value: 5, valid_for: 30d}", "write exactly one of them"),
        ("{id: v, percent: 101, valid_for: 30d}", "'percent' should be less than or equal to 100"),
        ("{id: v, value: 0, valid_for: 30d}", "'value' should be greater than 0"),
        ("{id: v, value: 1.005, valid_for: 30d}", "no more than 2 decimal places"),
        ("{id: v, percent: 10, valid_for: 99999d}", "'valid_for' must be at most 3653d"),
        ("{id: v, percent: 10}", "step 'v' is missing 'valid_for'"),
        ("{id: v, percent: 10, valid_for: 1d, per_customer: 0}", "'per_customer'"),
        ("{id: v, value: 5, currency: euro, valid_for: 1d}", "three-letter ISO 4217 code"),
        ("{id: v, percent: 5, currency: EUR, valid_for: 1d}", "'currency' goes with 'value'"),
        ("{id: v, percent: 5, valid_for: 1d, pool: 'a b'}", "'pool' must be 1-100 letters"),
        ("{id: v, percent: 5, valid_for: 1d, cap: 1}", "unknown key 'cap'"),
        ("15", "'coupon' needs a mapping such as {id, percent: 15, valid_for: 30d}"),
    ],
)
def test_a_bad_step_is_reported_at_its_line(step: str, message: str) -> None:
    found = problems(f"  - send: {{id: a, channel: email, template: m/x}}\n  - coupon: {step}\n")
    assert len(found) == 1 and found[0].startswith("s.yaml:6: "), found
    assert message in found[0]


def test_the_limit_reached_path_runs_its_steps_then_ends_the_entry() -> None:
    scenario = parse_scenario(
        HEAD + "  - coupon:\n      id: v\n      percent: 10\n      valid_for: 7d\n"
        "      limit_reached:\n        - update: {id: mark, set: {late: true}}\n"
        "  - send: {id: offer, channel: email, template: m/x}\n",
        "s.yaml",
    )
    ops = compile_steps(scenario.steps)
    assert [(op.kind, op.step_id, op.targets) for op in ops] == [
        ("coupon", "v", (2,)),  # limit reached: to the block
        ("jump", "", (4,)),  # issued: over it, to the send
        ("update", "mark", ()),
        ("exit", "v.limit-reached", ()),
        ("send", "offer", ()),
    ]
    assert ops[3].step.reason == "coupon limit reached at step 'v'"  # type: ignore[union-attr]


def test_templates_see_a_sample_coupon_only_after_a_coupon_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("templates/m").mkdir(parents=True)
    Path("templates/m/code.email.j2").write_text(WITH_CODE)
    Path("scenarios").mkdir()
    send = "  - send: {id: offer, channel: email, template: m/code}\n"
    Path("scenarios/with.yaml").write_text(
        HEAD + "  - coupon: {id: v, percent: 10, valid_for: 7d}\n" + send
    )
    Path("scenarios/without.yaml").write_text(HEAD.replace("cpn", "plain") + send)

    _, found = validate_paths([Path("scenarios")], Path("templates"))

    messages = [str(problem) for problem in found]
    assert messages and all("scenario 'plain'" in message for message in messages), messages
    assert "'None' has no attribute 'code'" in messages[0]
