"""The registry routes only a fully valid scenario set, indexed by trigger and listened events."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys.authoring.registry import ScenarioRegistry
from journeys.files.problems import ScenarioError

REPO = Path(__file__).resolve().parents[2]
DUPLICATE_IDS = """id: twice
name: Twice
trigger: {event: go}
steps:
  - send: {id: hello, channel: email, template: abandoned_cart/reminder}
  - send: {id: hello, channel: email, template: abandoned_cart/reminder}
sample:
  event: {cart_total: 1, currency: EUR, item_count: 1, cart_url: "https://x"}
"""


def test_shipped_scenarios_are_indexed_by_trigger_and_listened_events() -> None:
    registry = ScenarioRegistry.load(REPO / "scenarios", REPO / "templates")
    assert [s.id for s in registry.triggered_by("cart.updated")] == ["abandoned-cart"]
    assert [s.id for s in registry.listening_to("order.completed")] == ["abandoned-cart"]
    assert [s.id for s in registry.listening_to("vip.rsvp")] == ["vip-invite"]
    assert registry.triggered_by("vip.rsvp") == []


def test_a_set_with_one_broken_scenario_is_refused_whole(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text((REPO / "scenarios" / "vip_invite.yaml").read_text())
    (tmp_path / "twice.yaml").write_text(DUPLICATE_IDS)
    with pytest.raises(ScenarioError) as caught:
        ScenarioRegistry.load(tmp_path, REPO / "templates")
    assert [p.line for p in caught.value.problems] == [6]
    assert "hello" in caught.value.problems[0].message


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="the scenario folder does not exist"):
        ScenarioRegistry.load(tmp_path / "nope", REPO / "templates")
