"""Quiet hours: an SMS due at 23:00 in Tokyo goes out at 08:00 Tokyo time, never at night."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.delivery.governance import Governance
from journeys.delivery.quiet_hours import QuietHours, Window
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from worker import build_worker

LATE_SMS = """
id: late-sms
name: An SMS due late in the evening
trigger: {event: late.test}
steps:
  - wait_until: "23:00"
  - send: {id: late, channel: sms, template: abandoned_cart/nudge}
  - send: {id: receipt, channel: sms, template: abandoned_cart/nudge, purpose: transactional}
"""
TOKYO = ZoneInfo("Asia/Tokyo")
PROPS = {"cart_total": 120, "currency": "EUR", "item_count": 1, "cart_url": "https://x"}


@pytest.fixture
async def driver(
    temporal: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[JourneyDriver]:
    """A worker with the production default quiet hours (SMS and push 08:00-21:00)."""
    queue = "journeys-quiet"
    registry = ScenarioRegistry([parse_scenario(LATE_SMS, "late.yaml")])
    async with build_worker(
        temporal.client,
        settings.model_copy(update={"task_queue": queue}),
        store=store,
        governance=Governance(QuietHours.from_settings(), cap=None),
    ):
        yield JourneyDriver(temporal, Router(temporal.client, registry, queue), store)


async def test_sms_due_at_night_waits_for_eight_in_the_morning(driver: JourneyDriver) -> None:
    customer = driver.customer(
        time_zone="Asia/Tokyo", phone="+81312345678", consent={"email": True, "sms": True}
    )
    await driver.send(customer, "late.test", **PROPS)

    state = await driver.finish("late-sms", customer)

    late, receipt = driver.store.outbox.for_customer(customer)
    assert (late.step_id, late.journey_time.astimezone(TOKYO).hour) == ("late", 8)
    assert late.journey_time.astimezone(TOKYO).minute == 0
    assert [m.status for m in state.messages] == ["sent", "sent"]
    assert any(
        e.note.startswith("deferred: sms: quiet hours in Asia/Tokyo") for e in state.timeline
    )
    # The transactional receipt right after is not held back: same local morning, no wait.
    assert receipt.journey_time - late.journey_time < timedelta(minutes=1)
    ledger = {d.status for d in driver.store.ledger.for_customer(customer) if d.step_id == "late"}
    assert ledger == {"sent"}  # the deferral row became the sent row


def test_window_next_opening_in_the_customer_zone() -> None:
    hours = QuietHours({"sms": Window.parse("08:00-21:00"), "email": None})
    evening = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo
    assert hours.next_opening("sms", "marketing", evening, "Asia/Tokyo") == datetime(
        2026, 1, 15, 23, 0, tzinfo=UTC
    )  # 08:00 the next day in Tokyo
    assert hours.next_opening("sms", "transactional", evening, "Asia/Tokyo") is None
    assert hours.next_opening("email", "marketing", evening, "Asia/Tokyo") is None
    assert hours.next_opening("sms", "marketing", evening, "Europe/Paris") is None  # 15:00 there
    overnight = Window.parse("22:00-06:00")
    assert overnight is not None and overnight.allows(datetime(2026, 1, 1, 23, 0).time())
    assert Window.parse("") is None
    with pytest.raises(ValueError, match="08:00-21:00"):
        Window.parse("8am to 9pm")
