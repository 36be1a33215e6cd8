"""StepJourney is exactly what step handlers use, and JourneyWorkflow provides all of it.

The handlers are typed against the Protocol, not the workflow class, so nothing at run time
would notice JourneyWorkflow dropping or changing a member until a journey reached that step.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

from journeys.authoring.scenario_file import parse_scenario
from journeys.model.journey_state import JourneyInput
from workflows.journey import JourneyWorkflow
from workflows.step_journey import StepJourney

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SCENARIO = """
id: protocol
name: Protocol
trigger: {event: signup.completed}
steps:
  - wait: 1h
"""


def protocol_members(protocol: type) -> dict[str, object]:
    """Name → the Protocol's function, or the annotated type for a data member."""
    members: dict[str, object] = dict(typing.get_type_hints(protocol))
    for cls in protocol.__mro__:
        if getattr(cls, "_is_protocol", False) and cls is not typing.Protocol:
            members |= {
                name: value
                for name, value in vars(cls).items()
                if inspect.isfunction(value) and not name.startswith("_")
            }
    return members


def journey() -> JourneyWorkflow:
    scenario = parse_scenario(SCENARIO, "protocol.yaml")
    return JourneyWorkflow(JourneyInput(scenario=scenario, customer_id="c-1"))


def test_journey_workflow_provides_every_member_with_the_right_kind() -> None:
    instance = journey()
    for name, member in protocol_members(StepJourney).items():
        assert hasattr(instance, name), f"JourneyWorkflow has no '{name}'"
        if inspect.isfunction(member):
            provided = getattr(JourneyWorkflow, name)
            assert inspect.isfunction(provided), f"'{name}' must be a method"
            assert inspect.iscoroutinefunction(provided) == inspect.iscoroutinefunction(member), (
                f"'{name}' must {'' if inspect.iscoroutinefunction(member) else 'not '}be async"
            )
            assert inspect.signature(provided) == inspect.signature(member), name
        else:
            assert not callable(getattr(instance, name)), f"'{name}' must be a value"
            expected = typing.get_origin(member) or member
            assert isinstance(getattr(instance, name), expected), name


def _used_on_journey(path: Path) -> set[str]:
    """Attributes read on parameters typed StepJourney or Caller (``journey.x``)."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {
                a.arg
                for a in node.args.args
                if isinstance(a.annotation, ast.Name)
                and a.annotation.id in {"StepJourney", "Caller"}
            }
            used |= {
                n.attr
                for n in ast.walk(node)
                if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name)
                and n.value.id in names
            }
    return used


def test_every_member_is_used_by_a_handler_and_nothing_else_is() -> None:
    used = _used_on_journey(WORKFLOWS / "steps.py") | _used_on_journey(WORKFLOWS / "local_calls.py")
    assert used == set(protocol_members(StepJourney))
