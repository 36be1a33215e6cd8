"""Step keys never collide across customers: ids may contain ``/`` (and ``:`` or ``%``).

The first key format, ``journey/<scenario>/<customer>/<event id>/<step>``, gave customer
``kc/x`` with event ``e1`` and customer ``kc`` with event ``x/e1`` one key: the ledger then
took the second send for a retry of the first, and each got the other's message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.model import journey_keys
from journeys.model.events import Event
from journeys.model.journey_state import JourneyInput, JourneyProgress, journey_id
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.store.tables import Delivery
from journeys.store.tracking_tables import JourneyFact
from journeys.temporal.routing import Router
from tests.props import CART_PROPS

PROMO = """
id: keys-promo
name: A reward and a message per promo event
trigger: {event: promo.sent}
steps:
  - update: {id: reward, points: 10, reason: promo}
  - send: {id: offer, channel: email, template: abandoned_cart/reminder}
"""

ids = st.text(min_size=1, max_size=12)


def driver_for(
    temporal: WorkflowEnvironment, registry: ScenarioRegistry, settings: Settings, store: Store
) -> JourneyDriver:
    return JourneyDriver(temporal, Router(temporal.client, registry, settings.task_queue), store)


@given(a=st.tuples(ids, ids, ids, ids), b=st.tuples(ids, ids, ids, ids))
def test_structured_keys_name_their_parts(
    a: tuple[str, str, str, str], b: tuple[str, str, str, str]
) -> None:
    key = journey_keys.step_key(*a)
    prefix, *parts = key.split(":")
    assert prefix == "journey" and tuple(unquote(part) for part in parts) == a
    assert (key == journey_keys.step_key(*b)) == (a == b)
    assert not key.startswith("journey/")  # never equal to a key of the first format


def test_a_key_of_long_non_ascii_ids_stays_as_long_as_the_ids() -> None:
    """PostgreSQL's btree rows hold at most 2,704 bytes: two 200-character ids in CJK
    (3 bytes each in UTF-8) must fit in the ledger's unique index."""
    key = journey_keys.step_key("birthday", "顧" * 200, "イ" * 200, "greeting")
    assert len(key.encode()) < 1300


def test_the_colliding_pair_of_the_first_format_gets_two_keys() -> None:
    assert journey_keys.legacy_key("journey/s/kc/x", "e1", "offer") == journey_keys.legacy_key(
        "journey/s/kc", "x/e1", "offer"
    )
    assert journey_keys.step_key("s", "kc/x", "e1", "offer") != journey_keys.step_key(
        "s", "kc", "x/e1", "offer"
    )


async def test_customers_whose_ids_shared_a_key_each_get_their_own_message_and_points(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    registry = ScenarioRegistry([parse_scenario(PROMO, "keys-promo.yaml")])
    journeys = driver_for(temporal, registry, settings, store)
    base = f"kc-{uuid.uuid4().hex[:6]}"
    pair = {f"{base}/x": "e1", base: "x/e1"}  # customer -> trigger event id
    for customer in pair:
        store.customers.upsert(
            customer, email=f"{customer.replace('/', '.')}@example.com", consent={"email": True}
        )

    for customer, event_id in pair.items():
        await journeys.send(customer, "promo.sent", event_id=event_id, cart_total=50, **CART_PROPS)
    for customer in pair:
        await journeys.finish("keys-promo", customer)

    keys = set()
    for customer, event_id in pair.items():
        [message] = store.outbox.for_customer(customer)
        assert message.recipient == f"{customer.replace('/', '.')}@example.com"
        assert store.points.summary(customer, datetime.now(UTC))["earned"] == 10
        [row] = store.ledger.for_customer(customer)
        assert (row.status, row.entry_id) == ("sent", event_id)
        assert row.delivery_key == journey_keys.step_key("keys-promo", customer, event_id, "offer")
        keys.add(row.delivery_key)
    assert len(keys) == 2


async def test_a_run_carrying_an_entry_of_the_first_format_keeps_its_keys(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    """A journey that entered under the first format and continues as new after this
    release: the new run starts from the carried input (as this test starts it) and asks
    the patch afresh, yet its current entry keeps the keys its earlier steps wrote (a send
    reserved under one key must not be sent again under another)."""
    scenario = parse_scenario(PROMO.replace("keys-promo", "keys-legacy"), "keys-legacy.yaml")
    customer = f"legacy-{uuid.uuid4().hex[:6]}"
    store.customers.upsert(customer, email=f"{customer}@example.com", consent={"email": True})
    properties = {"cart_total": 50, **CART_PROPS}
    trigger = Event(id="e1", name="promo.sent", customer_id=customer, properties=properties)
    workflow_id = journey_id(scenario.id, customer)
    progress = JourneyProgress(
        status="running",
        entry_id="e1",
        entries=1,
        pc=1,  # the send: the reward was given before continue-as-new
        trigger=trigger,
        last_event=trigger,
        entered_at=datetime.now(UTC),
        seen_ids=["e1"],
        key_format=journey_keys.LEGACY,
    )
    handle = await temporal.client.start_workflow(
        "JourneyWorkflow",
        JourneyInput(scenario=scenario, customer_id=customer, progress=progress),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    await handle.result()

    [row] = store.ledger.for_customer(customer)
    assert row.delivery_key == f"{workflow_id}/e1/offer"


async def test_the_funnel_reads_ledger_rows_of_both_formats(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    scenario = parse_scenario(PROMO.replace("keys-promo", "keys-funnel"), "keys-funnel.yaml")
    registry = ScenarioRegistry([scenario])
    journeys = driver_for(temporal, registry, settings, store)
    since = datetime.now(UTC) - timedelta(minutes=1)
    customer = journeys.customer("funnel-keys")
    await journeys.send(customer, "promo.sent", event_id="e1", cart_total=50, **CART_PROPS)
    await journeys.finish(scenario.id, customer)
    # An entry as the first release recorded it: its ledger row has no entry id, and its key
    # is the first format; another entry's row (key of entry e2) is not counted as it.
    old = journeys.customer("funnel-old")
    workflow_id = journey_id(scenario.id, old)
    store.journeys.record_fact(
        JourneyFact(
            workflow_id=workflow_id,
            entry_id="e1",
            scenario_id=scenario.id,
            customer_id=old,
            kind="entered",
            at=datetime.now(UTC),
        )
    )
    for entry, status in (("e1", "sent"), ("e2", "suppressed:no-consent")):
        store.ledger.record(
            Delivery(
                delivery_key=journey_keys.legacy_key(workflow_id, entry, "offer"),
                channel="email",
                status=status,
                workflow_id=workflow_id,
                scenario_id=scenario.id,
                step_id="offer",
                customer_id=old,
            )
        )

    funnel = store.journeys.funnel(scenario, since, datetime.now(UTC) + timedelta(days=1))
    offer = next(step for step in funnel.steps if step.step_id == "offer")
    assert (funnel.entered, offer.sent, offer.suppressed) == (2, 2, {})
