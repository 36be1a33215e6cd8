"""The coupon step on the real server: one coupon per entry (a restart is a new entry and
gets a new code), the limit-reached path, a value coupon in the shop's currency, and an
empty pool as a step error that sends nothing."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.model.journey_state import JourneyState
from journeys.model.scenario import Scenario
from journeys.process.clock import utcnow
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router
from tests.workflow_history import task_failures

POOL = f"pool-{uuid.uuid4().hex[:6]}"  # the session's store is shared: a pool of our own


def scenario(scenario_id: str, steps: str) -> Scenario:
    text = (
        f"id: {scenario_id}\nname: Coupon steps\ntrigger: {{event: {scenario_id}.go}}\n"
        'vars: {shop_url: "https://shop.example/"}\nsteps:\n' + steps
    )
    return parse_scenario(text, f"{scenario_id}.yaml")


OFFER = "  - send: {id: offer, channel: email, template: win_back/offer}\n"
SCENARIOS = [
    scenario(
        "cpn-limit",
        "  - coupon:\n"
        "      id: voucher\n      percent: 10\n      valid_for: 7d\n      per_customer: 1\n"
        "      limit_reached:\n"
        "        - update: {id: note-it, set: {had_voucher: true}}\n" + OFFER,
    ),
    scenario(
        "cpn-value",
        "  - coupon: {id: five-off, value: 5, valid_for: 14d}\n" + OFFER,
    ),
    scenario(
        "cpn-pool",
        f"  - coupon: {{id: partner, percent: 20, valid_for: 10d, pool: {POOL}}}\n" + OFFER,
    ),
]


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    router = Router(temporal.client, ScenarioRegistry(SCENARIOS), settings.task_queue)
    return JourneyDriver(temporal, router, store)


async def entry(driver: JourneyDriver, scenario_id: str, customer: str) -> JourneyState:
    await driver.send(customer, f"{scenario_id}.go")
    state = await driver.finish(scenario_id, customer)
    assert await task_failures(driver.handle(scenario_id, customer)) == 0
    return state


async def test_each_entry_gets_its_own_coupon_and_the_limit_path_runs_after(
    driver: JourneyDriver,
) -> None:
    customer = driver.customer()
    first = await entry(driver, "cpn-value", customer)
    second = await entry(driver, "cpn-value", customer)  # a new entry: a new coupon
    codes = [c.code for c in driver.store.coupons.for_customer(customer)]
    assert first.status == second.status == "completed" and len(set(codes)) == 2
    messages = driver.store.outbox.for_customer(customer)
    assert [m.step_id for m in messages] == ["offer", "offer"]
    assert {codes[0] in messages[1].text, codes[1] in messages[0].text} == {True}
    assert "€5.00 off" in messages[0].subject  # the shop's currency (loyalty.yaml)

    limited = driver.customer()
    issued = await entry(driver, "cpn-limit", limited)
    refused = await entry(driver, "cpn-limit", limited)
    assert issued.status == "completed"
    assert refused.exit_reason == "coupon limit reached at step 'voucher'"
    assert driver.sent(limited) == [("offer", "email")]  # nothing promised without a coupon
    assert (driver.store.customers.get(limited) or {}).get("had_voucher") is True


async def test_an_empty_pool_is_a_step_error_and_nothing_is_sent(driver: JourneyDriver) -> None:
    driver.store.coupons.import_pool(POOL, [(f"{POOL.upper()}-ONLY", "test:1")], utcnow())
    lucky, unlucky = driver.customer(), driver.customer()
    assert (await entry(driver, "cpn-pool", lucky)).status == "completed"
    [message] = driver.store.outbox.for_customer(lucky)
    assert f"{POOL.upper()}-ONLY" in message.text

    state = await entry(driver, "cpn-pool", unlucky)

    assert state.exit_reason.startswith(
        f"error at step 'partner': pool '{POOL}' has no unused code left"
    )
    assert driver.sent(unlucky) == []
    assert driver.store.coupons.for_customer(unlucky) == []
