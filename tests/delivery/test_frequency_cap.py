"""The frequency cap across journeys: counted and reserved atomically, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from activities.channels.outbox import OutboxAdapter
from activities.deliver import DeliveryActivities
from journeys.delivery.frequency_cap import FrequencyCap
from journeys.delivery.governance import Governance
from journeys.delivery.quiet_hours import QuietHours
from journeys.model.contracts import DeliverRequest
from journeys.rendering.templating import Templates
from journeys.store import Store
from tests.deliveries import NOW, customer, deliver, request


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


CAP = FrequencyCap(limit=3, window=timedelta(days=7))


def capped_delivery(store: Store, templates: Templates) -> DeliveryActivities:
    outbox = OutboxAdapter(store)
    governance = Governance(QuietHours({}), CAP)
    return DeliveryActivities(store, templates, {"email": outbox, "sms": outbox}, governance)


def step(number: int, purpose: str = "marketing", days_ago: int = 0) -> DeliverRequest:
    """A send step of journey ``number`` for customer c1, ``days_ago`` days before NOW."""
    req = request(
        "c1",
        "email",
        delivery_key=f"journey/j{number}/c1/e/step-{number}",
        step_id=f"step-{number}",
        purpose=purpose,
    )
    when = req.context.model_copy(update={"now": NOW - timedelta(days=days_ago)})
    return req.model_copy(update={"context": when})


async def test_two_journeys_racing_for_the_last_slot_send_exactly_once(
    store: Store,
    templates: Templates,
) -> None:
    customer(store)
    delivery = capped_delivery(store, templates)
    for number in (1, 2):
        assert (await deliver(delivery, step(number))).status == "sent"

    racing = await asyncio.gather(*(deliver(delivery, step(n)) for n in (3, 4, 5, 6)))

    assert sorted(r.status for r in racing) == ["sent", "suppressed", "suppressed", "suppressed"]
    capped = [r for r in racing if r.status == "suppressed"]
    assert all(r.decisions[-1].status == "suppressed:capped" for r in capped)
    assert len(store.outbox.for_customer("c1")) == 3


async def test_transactional_and_old_messages_do_not_count(
    store: Store,
    templates: Templates,
) -> None:
    customer(store)
    delivery = capped_delivery(store, templates)
    for number in (1, 2):
        await deliver(delivery, step(number, days_ago=8))  # outside the 7-day window
    for number in (3, 4, 5):
        await deliver(delivery, step(number, purpose="transactional"))
    results = [await deliver(delivery, step(n)) for n in (6, 7, 8, 9)]
    assert [r.status for r in results] == ["sent", "sent", "sent", "suppressed"]


async def test_a_retried_reservation_keeps_its_own_slot(
    store: Store,
    templates: Templates,
) -> None:
    customer(store)
    delivery = capped_delivery(store, templates)
    for number in (1, 2, 3):
        await deliver(delivery, step(number))
    again = await deliver(delivery, step(3))  # the same delivery key: not a fourth message
    assert again.status == "sent"
    assert len(store.outbox.for_customer("c1")) == 3


def test_cap_setting_is_parsed_or_refused_clearly() -> None:
    assert FrequencyCap.parse("3/7d") == CAP
    assert FrequencyCap.parse("") is None
    with pytest.raises(ValueError, match=r"e\.g\. 3/7d"):
        FrequencyCap.parse("three a week")
