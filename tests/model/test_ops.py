"""The compiled steps (ops): nested blocks become a flat list with the right jump targets."""

from __future__ import annotations

from journeys.authoring.scenario_file import parse_scenario
from journeys.model.ops import compile_steps

NESTED = """
id: nested
name: Nested
trigger: {event: go}
steps:
  - wait: 1h
  - if: "true"
    id: check
    then:
      - send: {id: said-yes, channel: email, template: t}
    else:
      - send: {id: said-no, channel: email, template: t}
  - wait_for:
      id: reply
      event: replied
      timeout: 1d
      received:
        - send: {id: thanks, channel: email, template: t}
      timed_out:
        - exit: silent
  - split:
      id: ab
      variants:
        - {name: a, weight: 1, steps: [{send: {id: a, channel: email, template: t}}]}
        - {name: b, weight: 1, steps: []}
  - send: {id: last, channel: email, template: t}
"""


def test_nested_blocks_compile_to_jumps() -> None:
    ops = compile_steps(parse_scenario(NESTED, "nested.yaml").steps)
    listing = [(op.kind, op.step_id, op.targets) for op in ops]
    assert listing == [
        ("wait", "wait-1", ()),
        ("if", "check", (4,)),  # false → else block at 4
        ("send", "said-yes", ()),
        ("jump", "", (5,)),  # end of then → after the if
        ("send", "said-no", ()),
        ("wait_for", "reply", (8,)),  # timeout → timed_out block at 8
        ("send", "thanks", ()),
        ("jump", "", (9,)),
        ("exit", "exit-7", ()),
        ("split", "ab", (10, 12)),  # one start per variant
        ("send", "a", ()),
        ("jump", "", (13,)),
        ("jump", "", (13,)),  # variant b is empty: straight to the end
        ("send", "last", ()),
    ]
