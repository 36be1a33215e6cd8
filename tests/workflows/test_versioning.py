"""A journey finishes on the scenario snapshot it started with, whatever the file says now."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

SCENARIO = """
id: versioned-promo
name: Versioned promo
trigger: {{event: promo.viewed}}
steps:
  - wait: {wait}
  - send: {{id: {step}, channel: email, template: abandoned_cart/reminder}}
sample:
  event: {{cart_total: 10, currency: EUR, item_count: 1, cart_url: "https://x"}}
"""


async def test_running_journey_finishes_on_v1_after_the_file_changes(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "promo.yaml"
    file.write_text(SCENARIO.format(wait="1h", step="v1-message"))
    v1 = JourneyDriver(
        temporal,
        Router(
            temporal.client,
            ScenarioRegistry.load(tmp_path, settings.templates_dir),
            settings.task_queue,
        ),
        store,
    )
    early = v1.customer()
    await v1.send(early, "promo.viewed", cart_total=10, **CART_PROPS)
    await v1.idle("versioned-promo", early)

    file.write_text(SCENARIO.format(wait="2h", step="v2-message"))
    v2 = JourneyDriver(
        temporal,
        Router(
            temporal.client,
            ScenarioRegistry.load(tmp_path, settings.templates_dir),
            settings.task_queue,
        ),
        store,
    )
    late = v2.customer()
    await v2.send(late, "promo.viewed", cart_total=10, **CART_PROPS)

    early_state = await v2.finish("versioned-promo", early)
    late_state = await v2.finish("versioned-promo", late)

    assert v2.sent(early) == [("v1-message", "email")]
    assert v2.sent(late) == [("v2-message", "email")]
    assert early_state.scenario_version != late_state.scenario_version
    early_delay = early_state.messages[0].at - early_state.timeline[0].at
    late_delay = late_state.messages[0].at - late_state.timeline[0].at
    assert timedelta(hours=1) <= early_delay < timedelta(hours=2) <= late_delay
