"""Funnel counts for a scripted set of customers are exactly what they did.

The scenario is the shipped abandoned cart under an id of its own, so the entries of other
tests (same server, same store) are not counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.store.tracking_tables import JourneyFact
from journeys.temporal.routing import Router
from tests.api_server import ingest_api
from tests.props import CART_PROPS


async def test_funnel_counts_match_the_script(
    temporal: WorkflowEnvironment,
    worker: None,
    registry: ScenarioRegistry,
    settings: Settings,
    store: Store,
) -> None:
    scenario = registry.get("abandoned-cart").model_copy(update={"id": "funnel-cart"})
    own = ScenarioRegistry([scenario])
    journeys = JourneyDriver(temporal, Router(temporal.client, own, settings.task_queue), store)
    sid, first_wait = scenario.id, scenario.steps[0].id
    since = datetime.now(UTC) - timedelta(minutes=1)

    async def cart(customer: str) -> None:
        await journeys.send(customer, "cart.updated", cart_total=150, **CART_PROPS)
        await journeys.idle(sid, customer)

    # Completes: reminder, SMS nudge, then last chance by email (no push token).
    done = journeys.customer("f-done", phone="+33600000001", consent={"email": True, "sms": True})
    await cart(done)
    await journeys.finish(sid, done)
    # Orders after the reminder: exits on order.completed, which is also the goal.
    buyer = journeys.customer("f-buyer")
    await cart(buyer)
    await journeys.advance(sid, buyer, "2h")
    await journeys.idle(sid, buyer)
    await journeys.send(buyer, "order.completed", order_id="A-1")
    # Empties the cart during the first wait.
    emptier = journeys.customer("f-empty")
    await cart(emptier)
    await journeys.send(emptier, "cart.emptied")
    # Still in the first wait.
    await cart(journeys.customer("f-wait"))
    # No email consent: the reminder is suppressed; now waiting for an order.
    silent = journeys.customer("f-silent", consent={})
    await cart(silent)
    await journeys.advance(sid, silent, "2h")
    await journeys.idle(sid, silent)
    for customer in (buyer, emptier):
        assert (await journeys.finish(sid, customer)).status == "exited"

    async def counted() -> None:
        funnel = store.journeys.funnel(scenario, since, datetime.now(UTC) + timedelta(days=30))
        assert (funnel.entered, funnel.running, funnel.completed, funnel.goal_converted) == (
            5,
            2,
            1,
            1,
        )
        assert funnel.exited == {"exit on order.completed": 1, "exit on cart.emptied": 1}
        steps = {s.step_id: s for s in funnel.steps}
        assert steps[first_wait].waiting_now == 1
        assert steps["wait-for-order"].waiting_now == 1
        assert (steps["reminder"].sent, steps["reminder"].suppressed) == (2, {"no-consent": 1})
        assert steps["sms-nudge"].sent == 1
        assert (steps["last-chance"].sent, steps["last-chance"].suppressed) == (
            1,
            {"unreachable": 1},
        )

    await eventually(counted)
    # Entries before the range are not in it.
    assert (
        store.journeys.funnel(
            scenario, datetime.now(UTC) + timedelta(days=60), datetime.now(UTC) + timedelta(days=61)
        ).entered
        == 0
    )


async def test_the_funnel_over_http(
    temporal: WorkflowEnvironment,
    worker: None,
    registry: ScenarioRegistry,
    settings: Settings,
    store: Store,
) -> None:
    async with ingest_api(store, settings, registry, temporal) as (client, _):
        answer = await client.get("/v1/scenarios/abandoned-cart/funnel")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["scenario_id"] == "abandoned-cart" and body["entered"] >= 0
        assert [s["step_id"] for s in body["steps"]][:2] == [
            registry.get("abandoned-cart").steps[0].id,
            "reminder",
        ]
        assert (await client.get("/v1/scenarios/nope/funnel")).status_code == 404
        bad = await client.get("/v1/scenarios/abandoned-cart/funnel", params={"since": "yesterday"})
        assert bad.status_code == 422


def test_a_batch_of_facts_written_again_keeps_one_row_each(each_database_store: Store) -> None:
    """A retried ``record_facts`` (or deliver carrying facts) finds some rows there already:
    the others are still written, and none twice, on both databases."""
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def fact(kind: str, step_id: str = "") -> JourneyFact:
        return JourneyFact(
            workflow_id="w",
            entry_id="e",
            scenario_id="s",
            customer_id="c",
            kind=kind,
            step_id=step_id,
            at=at,
        )

    journeys = each_database_store.journeys
    journeys.record_facts([fact("entered"), fact("waiting", "pause")])
    journeys.record_facts([fact("waiting", "pause"), fact("completed")])
    with journeys._database.connection() as connection:
        rows = connection.execute(text("select kind, step_id from journey_facts order by id"))
        assert [tuple(r) for r in rows] == [
            ("entered", ""),
            ("waiting", "pause"),
            ("completed", ""),
        ]
