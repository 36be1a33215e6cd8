"""Reading scenario files: shorthand forms, generated ids, line numbers, messages, durations."""

from __future__ import annotations

from datetime import timedelta
from textwrap import dedent

import pytest

from journeys.authoring.scenario_file import parse_scenario
from journeys.files.problems import ScenarioError
from journeys.model.durations import DurationError, format_duration, parse_duration
from journeys.model.scenario import (
    ExitStep,
    IfStep,
    Scenario,
    SendStep,
    SplitStep,
    WaitForStep,
    WaitStep,
    WaitUntilStep,
)

HEAD = """\
id: test
name: Test
trigger: {event: signed.up}
"""


def parse(body: str) -> Scenario:
    return parse_scenario(HEAD + dedent(body), "s.yaml")


def dump(steps: list) -> list[dict]:
    """Steps without their source lines (which are tested on their own)."""
    return [step.model_dump() for step in steps]


def problems(body: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(body)
    return [str(p) for p in caught.value.problems]


# --- shorthand forms -----------------------------------------------------------------------


def test_wait_shorthand_is_a_duration() -> None:
    scenario = parse("steps:\n  - wait: 1h\n  - wait: {duration: 2d}\n")
    assert dump(scenario.steps) == dump(
        [
            WaitStep(id="wait-1", duration=timedelta(hours=1)),
            WaitStep(id="wait-2", duration=timedelta(days=2)),
        ]
    )


def test_exit_as_a_bare_word_or_with_a_reason() -> None:
    scenario = parse("steps:\n  - exit: bought elsewhere\n  - exit\n")
    assert dump(scenario.steps) == dump(
        [
            ExitStep(id="exit-1", reason="bought elsewhere"),
            ExitStep(id="exit-2", reason="exit step"),
        ]
    )


def test_channel_and_channels_mean_the_same() -> None:
    scenario = parse(
        """\
        steps:
          - send: {id: one, channel: email, template: t}
          - send: {id: list, channels: [push, email], template: t}
          - send: {id: one-in-list, channel: [sms], template: t}
        """
    )
    assert [s.channels for s in scenario.steps if isinstance(s, SendStep)] == [
        ["email"],
        ["push", "email"],
        ["sms"],
    ]


def test_channel_and_channels_together_is_a_problem() -> None:
    assert problems("steps:\n  - send: {channel: email, channels: [sms], template: t}\n") == [
        "s.yaml:5: write either 'channel' or 'channels', not both"
    ]


def test_wait_until_a_time_of_day_or_a_moment() -> None:
    scenario = parse(
        """\
        steps:
          - wait_until: "09:00"
          - wait_until: 21:30
          - wait_until: customer.points_expire_at
          - wait_until: {at: customer.birthday, offset: -7d, time: "10:00"}
        """
    )
    assert dump(scenario.steps) == dump(
        [
            WaitUntilStep(id="wait_until-1", time="09:00"),
            WaitUntilStep(id="wait_until-2", time="21:30"),  # not YAML 1.1's base-60 number
            WaitUntilStep(id="wait_until-3", at="customer.points_expire_at"),
            WaitUntilStep(
                id="wait_until-4", at="customer.birthday", offset=timedelta(days=-7), time="10:00"
            ),
        ]
    )


def test_wait_until_offset_remembers_calendar_days_or_elapsed_time() -> None:
    """48h and 2d are the same timedelta: the step keeps which one was written."""
    scenario = parse(
        """\
        steps:
          - wait_until: {at: customer.birthday, offset: 48h}
          - wait_until: {at: customer.birthday, offset: -2d}
          - wait_until: {at: customer.birthday, offset: 1w, time: "10:00"}
          - wait_until: {at: customer.birthday}
        """
    )
    steps = [s for s in scenario.steps if isinstance(s, WaitUntilStep)]
    assert [(s.offset, s.calendar_offset) for s in steps] == [
        (timedelta(days=2), False),
        (timedelta(days=-2), True),
        (timedelta(weeks=1), True),
        (None, False),
    ]
    again = Scenario.model_validate_json(scenario.model_dump_json())
    assert [s.calendar_offset for s in again.steps] == [False, True, True, False]


def test_wait_until_offset_needs_at() -> None:
    assert problems('steps:\n  - wait_until: {id: w, time: "09:00", offset: -30d}\n') == [
        "s.yaml:5: step 'w': wait_until 'offset' shifts the 'at' moment, and there is no "
        "'at': write {at: <expression>, offset: ...}, or drop the offset and pick the time"
    ]


def test_reentry_once_per_a_period() -> None:
    scenario = parse("entry:\n  reentry: {once_per: 365d}\nsteps: [exit]\n")
    assert scenario.entry.reentry == "once_per"
    assert scenario.entry.once_per == timedelta(days=365)


def test_reentry_words_and_entry_condition() -> None:
    scenario = parse('entry:\n  if: "event.total > 0"\n  reentry: once\nsteps: [exit]\n')
    assert scenario.entry.condition == "event.total > 0"
    assert scenario.entry.reentry == "once"
    assert scenario.entry.once_per is None


def test_reentry_once_per_without_a_period_is_a_problem() -> None:
    assert problems("entry:\n  reentry: once_per\nsteps: [exit]\n") == [
        "s.yaml:4: reentry once_per needs a period: {once_per: 365d}"
    ]
    assert problems("entry:\n  reentry: {once_per: 1y}\nsteps: [exit]\n") == [
        "s.yaml:5: 'entry': '1y' is not a duration: write a whole number and a unit "
        "(s, m, h, d or w), for example 30m, 1h, 2d or 1w"
    ]


def test_once_per_only_goes_with_reentry_once_per() -> None:
    assert problems("entry:\n  reentry: restart\n  once_per: 30d\nsteps: [exit]\n") == [
        "s.yaml:4: 'once_per' only goes with reentry once_per, not with reentry restart: "
        "write reentry: {once_per: <period>}"
    ]
    assert problems("entry: {once_per: 30d}\nsteps: [exit]\n") == [
        "s.yaml:4: 'once_per' only goes with reentry once_per, not with reentry restart: "
        "write reentry: {once_per: <period>}"
    ]


def test_exit_on_a_single_event() -> None:
    assert parse("exit_on: order.completed\nsteps: [exit]\n").exit_on == ["order.completed"]


def test_if_then_else_and_nested_blocks() -> None:
    scenario = parse(
        """\
        steps:
          - if: "customer.consent.sms"
            then:
              - send: {id: by-sms, channel: sms, template: t}
            else:
              - exit
        """
    )
    step = scenario.steps[0]
    assert isinstance(step, IfStep)
    assert step.condition == "customer.consent.sms"
    assert [s.id for s in step.then] == ["by-sms"]
    assert [s.id for s in step.otherwise] == ["exit-3"]


# --- generated ids and lines --------------------------------------------------------------


def test_ids_are_generated_depth_first_and_lines_are_kept() -> None:
    scenario = parse(
        """\
        steps:
          - wait: 1h
          - wait_for:
              event: order.completed
              timeout: 23h
              timed_out:
                - send: {channel: sms, template: t}
                - split:
                    variants:
                      - name: a
                        weight: 1
                        steps:
                          - exit
                      - {name: b, weight: 1}
          - send: {id: written, channel: email, template: t}
        """
    )
    assert [(s.id, s.line) for s in scenario.walk()] == [
        ("wait-1", 5),
        ("wait_for-2", 6),
        ("send-3", 10),
        ("split-4", 11),
        ("exit-5", 16),
        ("written", 18),
    ]
    wait_for = scenario.steps[1]
    assert isinstance(wait_for, WaitForStep)
    split = wait_for.timed_out[1]
    assert isinstance(split, SplitStep)
    assert [(v.name, v.line) for v in split.variants] == [("a", 13), ("b", 17)]


def test_a_snapshot_survives_a_round_trip_through_json() -> None:
    """The parsed scenario travels in workflow payloads: it must read back identical."""
    scenario = parse(
        "entry: {reentry: {once_per: 365d}}\ngoal: {event: x, within: 7d}\n"
        "steps:\n  - wait: 90m\n  - wait_for: {event: x, timeout: 2w}\n"
    )
    again = Scenario.model_validate_json(scenario.model_dump_json())
    assert again.model_dump() == scenario.model_dump()
    assert scenario.model_dump()["steps"][0]["duration"] == "90m"


# --- messages ------------------------------------------------------------------------------


def test_yaml_syntax_error_names_where_the_unclosed_mapping_starts() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("id: x\nname: X\ntrigger: {event: a\nsteps: [exit]\n", "s.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "s.yaml:4: YAML syntax error: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping that starts on line 3)"
    ]


def test_tabs_and_repeated_keys() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("id: x\n\tname: X\n", "s.yaml")
    assert str(caught.value) == (
        "s.yaml:2: YAML syntax error: found character '\\t' that cannot start any token "
        "(indent with spaces, not tabs)"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(HEAD + "name: Again\nsteps: [exit]\n", "s.yaml")
    assert str(caught.value) == "s.yaml:4: key 'name' appears twice in the same mapping"


def test_unknown_and_missing_keys_name_their_step() -> None:
    assert problems(
        """\
        nam: Typo
        steps:
          - send: {id: invite, channel: email, templte: vip/invite}
          - wait_for: {event: vip.rsvp}
        """
    ) == [
        "s.yaml:4: the scenario has unknown key 'nam' (did you mean 'name'?)",
        "s.yaml:6: step 'invite' has unknown key 'templte' (did you mean 'template'?)",
        "s.yaml:6: step 'invite' is missing 'template'",
        "s.yaml:7: step 'wait_for-2' is missing 'timeout'",
    ]


def test_internal_fields_cannot_be_written_in_a_step() -> None:
    """`kind` in a send body used to turn the step into a wait without a word."""
    assert problems(
        """\
        steps:
          - send: {id: s, kind: wait, channel: email, template: t, duration: 1h}
          - id: w
            wait: 1h
            line: 3
          - wait_until: {id: u, at: customer.birthday, offset: 2d, calendar_offset: false}
        """
    ) == [
        "s.yaml:5: step 's' has unknown key 'duration'",  # a wait's key: no "did you mean"
        "s.yaml:5: step 's' has unknown key 'kind'",
        "s.yaml:8: step 'w' has unknown key 'line'",
        "s.yaml:9: step 'u' has unknown key 'calendar_offset'",
    ]


def test_steps_without_a_shorthand_need_a_mapping() -> None:
    assert problems(
        """\
        steps:
          - send: reminder
          - wait_for: order.completed
          - split: [a, b]
          - update: points
        """
    ) == [
        "s.yaml:5: step 'send-1': 'send' needs a mapping such as {id, channel, template}, "
        "not 'reminder'",
        "s.yaml:6: step 'wait_for-2': 'wait_for' needs a mapping such as {event, timeout}, "
        "not 'order.completed'",
        "s.yaml:7: step 'split-3': 'split' needs a mapping such as "
        "{variants: [{name, weight, steps}]}, not ['a', 'b']",
        "s.yaml:8: step 'update-4': 'update' needs a mapping such as "
        "{set: {attribute: value}} or {points: 200}, not 'points'",
    ]


def test_unknown_step_kind_suggests_the_nearest() -> None:
    assert problems("steps:\n  - wiat: 1h\n") == [
        "s.yaml:5: a step needs exactly one of wait, wait_until, wait_for, if, split, send, "
        "update, exit, coupon (found: wiat); did you mean 'wait'?"
    ]


def test_bad_values_name_the_key_and_the_allowed_ones() -> None:
    assert problems(
        """\
        category: promo
        steps:
          - send: {id: s, channels: [email, fax], template: t}
          - split:
              id: ab
              variants:
                - {name: a, weight: 0}
          - wait_until: "9:00"
          - wait_until: {}
        """
    ) == [
        "s.yaml:4: 'category' must be 'marketing' or 'transactional' (got 'promo')",
        "s.yaml:6: step 's': 'channel' must be 'email', 'sms' or 'push' (got 'fax')",
        "s.yaml:10: variant 'a' of step 'ab': 'weight' should be greater than 0",
        "s.yaml:11: step 'wait_until-3': '9:00' is not a time of day: write it as HH:MM, "
        "e.g. 09:30",
        "s.yaml:12: step 'wait_until-4': wait_until needs a time of day (09:00) or an 'at' "
        "expression",
    ]


def test_durations_must_be_readable_and_positive() -> None:
    assert problems(
        """\
        goal: {event: x, within: 0d}
        steps:
          - wait: 1 hour
          - wait: 0h
          - wait_for: {event: x, timeout: -3d}
          - wait: 5
        """
    ) == [
        "s.yaml:4: 'goal': 'within' must be longer than zero (got 0s)",
        "s.yaml:6: step 'wait-1': '1 hour' is not a duration: write a whole number and a unit "
        "(s, m, h, d or w), for example 30m, 1h, 2d or 1w",
        "s.yaml:7: step 'wait-2': 'wait' must be longer than zero (got 0s)",
        "s.yaml:8: step 'wait_for-3': 'timeout' must be longer than zero (got -3d)",
        "s.yaml:9: step 'wait-4': 5 is not a duration: write it as text such as 30m, 1h or 2d",
    ]


def test_structure_problems_are_all_reported() -> None:
    assert problems("source: x.yaml\nsteps: []\n") == [
        "s.yaml:4: the scenario has unknown key 'source'",
        "s.yaml:5: 'steps' must not be empty",
    ]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("- just a list\n", "s.yaml")
    assert str(caught.value) == (
        "s.yaml:1: a scenario file must be a mapping (id, name, trigger, steps, ...)"
    )


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        (" 2d ", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("-30d", timedelta(days=-30)),
        ("365d", timedelta(days=365)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1.5h", "1y", "1 hour", "1h30m", "one day"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=90), "90m"),
        (timedelta(hours=23), "23h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=14), "2w"),
        (timedelta(days=365), "365d"),
        (timedelta(days=-30), "-30d"),
    ],
)
def test_format_duration_is_the_shortest_exact_spelling(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    assert parse_duration(text) == delta
