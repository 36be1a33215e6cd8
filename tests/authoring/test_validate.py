"""`journeys validate`: every kind of problem, reported as the exact `file:line: sentence`.

Each test writes a small project (scenarios/ and templates/) into a temporary folder and
runs from there, so problems read exactly as a marketer sees them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from textwrap import dedent

import pytest

from journeys.authoring.scenario_file import parse_scenario
from journeys.authoring.validate import validate_paths, validate_scenario
from journeys.rendering.context import sample_context
from journeys.rendering.templating import Templates

REPO = Path(__file__).resolve().parents[2]

EMAIL = """\
{% block subject %}Hello{% endblock %}
{% block html %}<p>Hi {{ customer.first_name }}</p>{% endblock %}
{% block text %}Hi {{ customer.first_name }}{% endblock %}
"""
SMS = "{% block text %}Hi {{ customer.first_name }}{% endblock %}\n"
PUSH = "{% block title %}Hello{% endblock %}\n{% block text %}Hi{% endblock %}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write({"templates/msg/hello.email.j2": EMAIL, "templates/msg/hello.sms.j2": SMS})
    return tmp_path


def write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(dedent(text), encoding="utf-8")


def scenario(steps: str, head: str = "", scenario_id: str = "test") -> str:
    """A valid scenario around the given steps (and extra top-level keys)."""
    top = f"id: {scenario_id}\nname: Test\ntrigger: {{event: signed.up}}\n"
    return top + dedent(head) + "steps:\n" + dedent(steps)


def check(*paths: str) -> list[str]:
    _, problems = validate_paths([Path(p) for p in paths or ("scenarios",)], Path("templates"))
    return [str(p) for p in problems]


# --- problems found while reading the file ------------------------------------------------


def test_yaml_syntax_error(project: Path) -> None:
    write({"scenarios/a.yaml": "id: a\nname: A\ntrigger: {event: x\nsteps: [exit]\n"})
    assert check() == [
        "scenarios/a.yaml:4: YAML syntax error: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping that starts on line 3)"
    ]


def test_unknown_keys(project: Path) -> None:
    write(
        {
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channel: email, template: msg/hello, priority: 1}\n",
                "goals: x\n",
            )
        }
    )
    assert check() == [
        "scenarios/a.yaml:4: the scenario has unknown key 'goals' (did you mean 'goal'?)",
        "scenarios/a.yaml:6: step 'hi' has unknown key 'priority'",
    ]


def test_missing_keys(project: Path) -> None:
    write({"scenarios/a.yaml": "id: a\ntrigger: {}\nsteps:\n  - send: {id: hi, channel: sms}\n"})
    assert check() == [
        "scenarios/a.yaml:1: the scenario is missing 'name'",
        "scenarios/a.yaml:2: a trigger needs an event, or a schedule with an audience",
        "scenarios/a.yaml:4: step 'hi' is missing 'template'",
    ]


def test_bad_durations(project: Path) -> None:
    steps = """\
      - wait: 2 days
      - wait_for: {id: w, event: x, timeout: 0m}
    """
    write({"scenarios/a.yaml": scenario(steps, "goal: {event: x, within: 7}\n")})
    assert check() == [
        "scenarios/a.yaml:4: 'goal': 7 is not a duration: write it as text such as 30m, 1h or 2d",
        "scenarios/a.yaml:6: step 'wait-1': '2 days' is not a duration: write a whole number "
        "and a unit (s, m, h, d or w), for example 30m, 1h, 2d or 1w",
        "scenarios/a.yaml:7: step 'w': 'timeout' must be longer than zero (got 0s)",
    ]


def test_bad_literal_values(project: Path) -> None:
    steps = "  - send: {id: hi, channels: [email, fax], template: msg/hello}\n"
    write({"scenarios/a.yaml": scenario(steps, "category: promo\nentry: {reentry: twice}\n")})
    assert check() == [
        "scenarios/a.yaml:4: 'category' must be 'marketing' or 'transactional' (got 'promo')",
        "scenarios/a.yaml:5: 'entry': 'reentry' must be 'restart', 'ignore', 'once', "
        "'once_per' or 'queue' (got 'twice')",
        "scenarios/a.yaml:7: step 'hi': 'channel' must be 'email', 'sms' or 'push' (got 'fax')",
    ]


# --- problems across a scenario -----------------------------------------------------------


def test_duplicate_scenario_ids_across_files(project: Path) -> None:
    write(
        {
            "scenarios/a.yaml": scenario("  - exit\n", scenario_id="welcome"),
            "scenarios/b.yml": "# the same id again\nname: B\n"
            "id: welcome\ntrigger: {event: x}\nsteps: [exit]\n",
        }
    )
    assert check() == [
        "scenarios/b.yml:3: scenario id 'welcome' is already used by scenarios/a.yaml"
    ]


def test_duplicate_step_ids(project: Path) -> None:
    steps = """\
      - send: {id: hi, channel: email, template: msg/hello}
      - wait: 1d
      - if: "customer.consent.sms"
        then:
          - send: {id: hi, channel: sms, template: msg/hello}
    """
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == ["scenarios/a.yaml:9: step id 'hi' is already used by the step on line 5"]


def test_unknown_templates_for_each_fallback_channel(project: Path) -> None:
    steps = """\
      - send: {id: invite, channel: email, template: msg/helo}
      - send: {id: nudge, channels: [push, sms, email], template: msg/hello}
    """
    write({"scenarios/vip.yaml": scenario(steps)})
    assert check() == [
        "scenarios/vip.yaml:5: step 'invite' uses template 'msg/helo' which has no email version "
        "(templates/msg/helo.email.j2 does not exist)",
        "scenarios/vip.yaml:6: step 'nudge' uses template 'msg/hello' which has no push version "
        "(templates/msg/hello.push.j2 does not exist)",
    ]


def test_template_failing_on_the_sample_in_any_locale(project: Path) -> None:
    write(
        {
            "templates/msg/hello.sms.fr.j2": """\
                {% block text %}
                Bonjour {{ customer.first_name }},
                votre panier de {{ event.cart_totl | money(event.currency, customer.locale) }}
                {% endblock %}
            """,
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channel: sms, template: msg/hello}\n",
                "sample:\n  event: {cart_total: 12.5, currency: EUR}\n",
            ),
        }
    )
    assert check() == [
        "templates/msg/hello.sms.fr.j2:3: template 'msg/hello' (sms, fr) fails with the sample "
        "data of scenario 'test': 'dict object' has no attribute 'cart_totl'"
    ]


def test_template_syntax_error(project: Path) -> None:
    write(
        {
            "templates/msg/hello.sms.j2": "{% block text %}\n{{ customer.name }\n{% endblock %}\n",
            "scenarios/a.yaml": scenario("  - send: {id: hi, channel: sms, template: msg/hello}\n"),
        }
    )
    assert check() == ["templates/msg/hello.sms.j2:2: template syntax error: unexpected '}'"]


def test_template_missing_a_block(project: Path) -> None:
    write(
        {
            "templates/msg/hello.email.fr.j2": "{% block subject %}Bonjour{% endblock %}\n",
            "templates/msg/hello.push.j2": "{% block text %}Hi{% endblock %}\n",
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channels: [push, email], template: msg/hello}\n"
            ),
        }
    )
    assert check() == [
        "templates/msg/hello.email.fr.j2:1: template 'msg/hello' (email, fr) has no "
        "'{% block html %}' (an email needs subject, html, text)",
        "templates/msg/hello.email.fr.j2:1: template 'msg/hello' (email, fr) has no "
        "'{% block text %}' (an email needs subject, html, text)",
        "templates/msg/hello.push.j2:1: template 'msg/hello' (push) has no "
        "'{% block title %}' (a push needs title, text)",
    ]


def test_error_in_a_layout_is_reported_at_the_layout_line(project: Path) -> None:
    write(
        {
            "templates/_layouts/base.email.j2": """\
                {% block html %}
                <html><body>{% block content %}{% endblock %}
                <a href="{{ unsubscribe_link }}">Unsubscribe</a></body></html>
                {% endblock %}
                {% block text %}{% block body_text %}{% endblock %}{% endblock %}
            """,
            "templates/msg/hello.email.j2": """\
                {% extends "_layouts/base.email.j2" %}
                {% block subject %}Hello{% endblock %}
                {% block content %}<p>Hi</p>{% endblock %}
                {% block body_text %}Hi{% endblock %}
            """,
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channel: email, template: msg/hello}\n"
            ),
        }
    )
    assert check() == [
        "templates/_layouts/base.email.j2:3: template 'msg/hello' (email) fails with the sample "
        "data of scenario 'test': 'unsubscribe_link' is undefined"
    ]


def test_bad_expressions(project: Path) -> None:
    steps = """\
      - if: "customer.consent.sms and"
        id: has-sms
        then: [exit]
      - wait_for:
          {id: paid, event: order.paid, timeout: 1d, where: "last_event.order_id == event.ordr"}
      - wait_until: {id: before-expiry, at: "customer.points_expiry", offset: -30d}
      - update:
          id: reward
          set:
            points: "{{ customer.points + 100 }}"
            note: "welcome aboard"
    """
    head = """\
        entry:
          if: "event.total > 0"
        sample:
          customer: {points: 10}
          event: {order_id: "o-1"}
    """
    write({"scenarios/a.yaml": scenario(steps, head)})
    assert check() == [
        'scenarios/a.yaml:5: entry.if "event.total > 0" fails with the sample data: '
        "'dict object' has no attribute 'total'",
        "scenarios/a.yaml:10: step 'has-sms': if \"customer.consent.sms and\" does not parse: "
        "unexpected 'end of template'",
        "scenarios/a.yaml:13: step 'paid': where \"last_event.order_id == event.ordr\" fails with "
        "the sample data: 'dict object' has no attribute 'ordr'",
        "scenarios/a.yaml:15: step 'before-expiry': at \"customer.points_expiry\" fails with the "
        "sample data: 'dict object' has no attribute 'points_expiry'",
    ]
    # Fix the expressions and complete the sample: no problem is left (the text value is fine).
    fixed_steps = steps.replace(' and"', '"').replace("event.ordr", "event.order_id")
    fixed_head = head.replace("points: 10}", "points: 10, points_expiry: '2026-06-01'}")
    fixed_head = fixed_head.replace('{order_id: "o-1"}', '{order_id: "o-1", total: 5}')
    write({"scenarios/a.yaml": scenario(fixed_steps, fixed_head)})
    assert check() == []


def test_update_expression_must_evaluate(project: Path) -> None:
    steps = '  - update: {id: reward, set: {points: "{{ customer.pionts + 100 }}"}}\n'
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == [
        "scenarios/a.yaml:5: step 'reward': set.points \"customer.pionts + 100\" fails with the "
        "sample data: 'dict object' has no attribute 'pionts'"
    ]


def test_update_text_with_braces_that_is_not_one_expression(project: Path) -> None:
    steps = """\
      - update:
          id: greet
          set:
            note: "welcome {{ customer.first_name }}"
            prefs: {banner: "{{ event.banner }}"}
            points: " {{ customer.points }} "
    """
    write({"scenarios/a.yaml": scenario(steps, "sample:\n  customer: {points: 1}\n")})
    assert check() == [
        "scenarios/a.yaml:7: step 'greet': set.note \"welcome {{ customer.first_name }}\" would "
        'be stored as written, braces included: only a value that is one whole "{{ expression }}" '
        "is evaluated (e.g. \"{{ 'Hi ' ~ customer.first_name }}\")",
        "scenarios/a.yaml:7: step 'greet': set.prefs {'banner': '{{ event.banner }}'} would "
        'be stored as written, braces included: only a value that is one whole "{{ expression }}" '
        "is evaluated (e.g. \"{{ 'Hi ' ~ customer.first_name }}\")",
    ]


def test_update_profile_values_follow_the_store_rules(project: Path) -> None:
    steps = """\
      - update:
          id: profile
          set:
            id: someone-else
            time_zone: Europe/Pari
            consent: {sms: "yes", fax: true}
            locale: French
            email: "{{ event.email }}"
            phone: null
    """
    head = "sample:\n  event: {email: ana@example.com}\n"
    write({"scenarios/a.yaml": scenario(steps, head)})
    assert check() == [
        "scenarios/a.yaml:7: step 'profile': set.consent: consent.sms must be true or false, "
        "not 'yes'",
        "scenarios/a.yaml:7: step 'profile': set.id: a customer's id cannot be changed",
        "scenarios/a.yaml:7: step 'profile': set.locale: 'French' is not a locale "
        "(e.g. en, fr or fr-CA)",
        "scenarios/a.yaml:7: step 'profile': set.time_zone: 'Europe/Pari' is not an IANA time "
        "zone (e.g. Europe/Paris)",
    ]


def test_received_branch_of_an_exit_on_event_never_runs(project: Path) -> None:
    steps = """\
      - wait_for:
          id: paid
          event: order.completed
          timeout: 1d
          received:
            - send: {id: thanks, channel: email, template: msg/hello}
      - wait_for: {id: quiet, event: order.completed, timeout: 1d}
      - wait_for:
          {id: other, event: order.paid, timeout: 1d, received: [exit]}
    """
    write({"scenarios/a.yaml": scenario(steps, "exit_on: [order.completed]\n")})
    assert check() == [
        "scenarios/a.yaml:6: step 'paid': its 'received' steps can never run: "
        "'order.completed' is in exit_on, which ends the journey as soon as the event arrives"
    ]


def test_split_variant_names_are_unique(project: Path) -> None:
    steps = """\
      - split:
          id: ab
          variants:
            - {name: a, weight: 1}
            - {name: b, weight: 1}
            - {name: a, weight: 2}
    """
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == [
        "scenarios/a.yaml:10: step 'ab': variant name 'a' is already used by the variant on line 8"
    ]


def test_locale_file_names_in_upper_case_are_reported(project: Path) -> None:
    """The runtime looks up `fr-ca`: a `fr-CA` file would never be sent, so say so."""
    write(
        {
            "templates/msg/hello.email.fr-CA.j2": EMAIL,
            "templates/msg/hello.email.pt_br.j2": EMAIL,
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channel: email, template: msg/hello}\n"
            ),
        }
    )
    assert check() == [
        "templates/msg/hello.email.fr-CA.j2:1: template 'msg/hello' (email, fr-CA) is never "
        "used: locales are looked up in lower case with '-', so rename it hello.email.fr-ca.j2",
        "templates/msg/hello.email.pt_br.j2:1: template 'msg/hello' (email, pt_br) is never "
        "used: locales are looked up in lower case with '-', so rename it hello.email.pt-br.j2",
    ]
    templates = Templates(Path("templates"))
    assert templates.locales("msg/hello", "email") == [""]
    assert templates.misnamed_locales("msg/hello", "email") == ["fr-CA", "pt_br"]


def test_wait_until_at_must_give_a_date(project: Path) -> None:
    steps = """\
      - wait_until: {id: on-expiry, at: customer.points}
      - wait_until: {id: on-birthday, at: customer.birthday, time: "10:00"}
    """
    head = "sample:\n  customer: {points: 120, birthday: '1990-04-01'}\n"
    write({"scenarios/a.yaml": scenario(steps, head)})
    assert check() == [
        "scenarios/a.yaml:7: step 'on-expiry': at \"customer.points\" fails with the sample data: "
        "120 is not a date or a date and time"
    ]


def test_template_names_stay_inside_the_templates_folder(project: Path) -> None:
    write({"scenarios/a.yaml": scenario("  - send: {id: hi, channel: sms, template: ../secret}\n")})
    assert check() == [
        "scenarios/a.yaml:5: step 'hi': template '../secret' must be a name inside the "
        "templates folder, such as 'welcome/hello'"
    ]


def test_unreachable_steps(project: Path) -> None:
    steps = """\
      - if: "customer.consent.sms"
        then:
          - exit: texted
          - send: {id: dead-1, channel: sms, template: msg/hello}
          - send: {id: also-dead, channel: sms, template: msg/hello}
        else: [exit]
      - send: {id: dead-2, channel: email, template: msg/hello}
      - wait: 1d
    """
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == [
        "scenarios/a.yaml:8: step 'dead-1' can never run: the step before it always exits",
        "scenarios/a.yaml:11: step 'dead-2' can never run: the step before it always exits",
    ]


def test_unreachable_after_wait_for_and_split_that_always_exit(project: Path) -> None:
    steps = """\
      - wait_for:
          event: order.paid
          timeout: 1d
          received: [exit]
          timed_out:
            - split:
                variants:
                  - {name: a, weight: 1, steps: [exit]}
                  - {name: b, weight: 1, steps: [{send: {channel: sms, template: msg/hello}}, exit]}
      - send: {id: after, channel: email, template: msg/hello}
    """
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == [
        "scenarios/a.yaml:14: step 'after' can never run: the step before it always exits"
    ]


def test_steps_after_branches_that_may_continue_are_fine(project: Path) -> None:
    steps = """\
      - if: "customer.consent.sms"
        then: [exit]
      - wait_for: {event: order.paid, timeout: 1d, timed_out: [exit]}
      - split:
          variants:
            - {name: a, weight: 1, steps: [exit]}
            - {name: b, weight: 1}
      - send: {id: reachable, channel: email, template: msg/hello}
    """
    write({"scenarios/a.yaml": scenario(steps)})
    assert check() == []


def test_trigger_in_exit_on(project: Path) -> None:
    head = "exit_on:\n  - order.completed\n  - signed.up\n"
    write({"scenarios/a.yaml": scenario("  - wait: 1d\n", head)})
    assert check() == [
        "scenarios/a.yaml:6: exit_on lists the trigger event 'signed.up': every journey would "
        "end as soon as it starts"
    ]


# --- the whole run -------------------------------------------------------------------------


def test_every_problem_in_every_file_is_reported(project: Path) -> None:
    write(
        {
            "scenarios/a.yaml": scenario(
                "  - send: {id: hi, channel: push, template: msg/hello}\n  - exit\n  - wait: 1h\n",
                "exit_on: [signed.up]\n",
            ),
            "scenarios/b.yaml": "id: b\nname: B\nsteps: [exit]\n",
            "scenarios/notes.txt": "not a scenario",
        }
    )
    scenarios, problems = validate_paths([Path("scenarios")], Path("templates"))
    assert [s.id for s in scenarios] == ["test"]
    assert [str(p) for p in problems] == [
        "scenarios/a.yaml:4: exit_on lists the trigger event 'signed.up': every journey would "
        "end as soon as it starts",
        "scenarios/a.yaml:6: step 'hi' uses template 'msg/hello' which has no push version "
        "(templates/msg/hello.push.j2 does not exist)",
        "scenarios/a.yaml:8: step 'wait-3' can never run: the step before it always exits",
        "scenarios/b.yaml:1: the scenario is missing 'trigger'",
    ]


def test_files_and_folders_and_missing_paths(project: Path) -> None:
    write(
        {
            "scenarios/b.yml": scenario("  - exit\n", scenario_id="b"),
            "scenarios/a.yaml": scenario("  - exit\n", scenario_id="a"),
            "other/c.yaml": scenario("  - exit\n", scenario_id="c"),
        }
    )
    scenarios, problems = validate_paths(
        [Path("scenarios"), Path("other/c.yaml"), Path("missing.yaml")], Path("templates")
    )
    assert [s.id for s in scenarios] == ["a", "b", "c"]
    assert [str(p) for p in problems] == [
        "missing.yaml:1: cannot read this file: No such file or directory"
    ]


def test_validate_one_scenario_object(project: Path) -> None:
    text = scenario(
        "  - send: {id: hi, channel: sms, template: msg/bye}\n", 'entry: {if: "event.x"}\n'
    )
    parsed = parse_scenario(text, "inline.yaml")  # no such file: lines come from the steps
    assert [str(p) for p in validate_scenario(parsed, Path("templates"))] == [
        'inline.yaml:1: entry.if "event.x" fails with the sample data: '
        "'dict object' has no attribute 'x'",
        "inline.yaml:6: step 'hi' uses template 'msg/bye' which has no sms version "
        "(templates/msg/bye.sms.j2 does not exist)",
    ]


# --- the shipped scenarios and templates --------------------------------------------------


def test_shipped_scenarios_and_templates_are_valid() -> None:
    scenarios, problems = validate_paths([REPO / "scenarios"], REPO / "templates")
    assert [str(p) for p in problems] == []
    assert {s.id for s in scenarios} >= {"abandoned-cart", "vip-invite"}


class _Tags(HTMLParser):
    """Checks that every opened element is closed, in order (void elements aside)."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_shipped_messages_read_well(locale: str) -> None:
    """Every message in every locale: SMS fits one segment's 160 characters, HTML is a small
    well-formed document with inline styles, and no part is left with a blank variable."""
    templates = Templates(REPO / "templates")
    scenarios, _ = validate_paths([REPO / "scenarios"], REPO / "templates")
    rendered = 0
    for item in scenarios:
        context = sample_context(item)
        context["customer"] = {**context["customer"], "locale": locale}
        for step in item.walk():
            for channel in getattr(step, "channels", []):
                message = templates.render(step.template, channel, locale, context)  # type: ignore[attr-defined]
                assert message.locale == ("" if locale == "en" else locale)  # en is the default
                assert all(message.parts.values()), message.template_file
                assert "  " not in message.subject and "None" not in message.text
                if channel == "sms":
                    assert len(message.text) <= 160, (message.template_file, len(message.text))
                if message.html is not None:
                    html = message.html
                    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
                    assert f'<html lang="{locale}">' in html
                    assert "<style" not in html and 'style="' in html
                    parser = _Tags()
                    parser.feed(html)
                    assert parser.errors == [] and parser.open == [], message.template_file
                    assert re.search(r"https://\S+", message.text), "text part has the link"
                rendered += 1
    assert rendered == 37  # every channel of every send step of the shipped scenarios


def test_locale_variants_are_found_by_their_exact_name(project: Path) -> None:
    """Only `<name>.<channel>[.<locale>].j2` files are variants (so each one is checked)."""
    write(
        {
            "templates/msg/hello.email.fr.j2": EMAIL,
            "templates/msg/hello.email.fr-ca.j2": EMAIL,
            "templates/msg/hello.emails.j2": "not a variant",
            "templates/msg/hello.sms.fr.j2": SMS,
        }
    )
    templates = Templates(Path("templates"))
    assert templates.locales("msg/hello", "email") == ["", "fr", "fr-ca"]
    assert templates.locales("msg/hello", "push") == []
    context = sample_context(parse_scenario(scenario("  - exit\n"), "inline.yaml"))
    assert templates.render("msg/hello", "email", "fr-CA", context).locale == "fr-ca"


# --- scheduled triggers and the loyalty program -------------------------------------------


def test_scheduled_trigger_problems(project: Path) -> None:
    steps = "  - send: {id: hi, channel: email, template: msg/hello}\n"
    write(
        {
            "scenarios/a.yaml": "id: a\nname: A\ntrigger:\n  schedule: {every: 1d}\n"
            + "steps:\n"
            + steps,
            "scenarios/b.yaml": "id: b\nname: B\ntrigger:\n  schedule: {cron: '0 9 * *'}\n"
            + "  audience: {birthday: today}\nsteps:\n"
            + steps,
            "scenarios/c.yaml": "id: c\nname: C\ntrigger:\n  event: x\n  schedule: {every: 1d}\n"
            + "  audience: {inactive: 90d}\nsteps:\n"
            + steps,
        }
    )
    assert check() == [
        "scenarios/a.yaml:3: a scheduled trigger needs both 'schedule' and 'audience'",
        "scenarios/b.yaml:4: 'trigger': '0 9 * *' is not a cron line: five fields, minute hour "
        "day month weekday",
        "scenarios/c.yaml:3: a trigger is an event or a schedule with an audience, not both",
    ]


def test_audience_names_must_exist_in_the_loyalty_program(project: Path) -> None:
    from journeys.authoring.validate_program import check_audiences
    from journeys.loyalty.program import LoyaltyProgram

    head = (
        "trigger:\n  schedule: {every: 1d}\n  audience: {tier: [gold, golden], segment: [Champs]}\n"
    )
    write({"scenarios/a.yaml": "id: a\nname: A\n" + head + "steps:\n  - exit\n"})
    scenarios, problems = validate_paths([Path("scenarios")], Path("templates"))
    assert problems == []

    found = [str(p) for p in check_audiences(scenarios, LoyaltyProgram())]
    assert found == [
        "scenarios/a.yaml:3: audience tier 'golden' is not a tier of the loyalty program "
        "(member, silver, gold, platinum)",
        "scenarios/a.yaml:3: audience segment 'Champs' is not an RFM segment (Hibernating, "
        "At Risk, Cannot Lose Them, About To Sleep, Need Attention, Loyal, Promising, "
        "New Customers, Potential Loyalists, Champions)",
    ]


def test_loyalty_file_problems_name_their_line(project: Path) -> None:
    from journeys.authoring.validate_program import load_program

    write(
        {
            "loyalty.yaml": """\
            points:
              per_currency_unit: -1
              expiry: {after: 1 year}
            tiers:
              levels:
                - {name: member, min_spend: 0}
                - {name: gold, min_spend: 1000}
                - {name: silver, min_spend: 300}
            """
        }
    )
    program, problems = load_program(Path("loyalty.yaml"))
    assert program is None
    assert [str(p) for p in problems] == [
        "loyalty.yaml:2: points.per_currency_unit: Input should be greater than or equal to 0",
        "loyalty.yaml:3: points.expiry.after: '1 year' is not a duration: write a whole number "
        "and a unit (s, m, h, d or w), for example 30m, 1h, 2d or 1w",
        "loyalty.yaml:4: tiers: tier levels must be listed from the lowest min_spend up",
    ]
    assert load_program(Path("missing.yaml"))[0] is not None  # no file: the default program
