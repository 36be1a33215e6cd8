"""The purchase challenge, end to end on the real server: "3 purchases within 30 days earns
a badge and 300 points", counted by the router once per event id, over a rolling window.

Purchases carry pinned ``occurred_at`` moments: the window is over when they occurred, so
the outcome is the same on any date and at any hour.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from journeys.app.driver import JourneyDriver
from journeys.model.events import Event
from journeys.temporal.ingest import ingest

CHALLENGE = "purchase-challenge"
BADGE = "three-in-thirty"
T0 = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def purchase(customer: str, at: datetime, event_id: str | None = None) -> Event:
    return Event(
        id=event_id or f"order-{uuid.uuid4().hex[:10]}",
        name="purchase",
        customer_id=customer,
        properties={"amount": 20, "currency": "EUR"},
        occurred_at=at,
    )


async def buy(journeys: JourneyDriver, event: Event) -> str:
    """Routes the purchase and lets its journey run to its end; returns the journey's status."""
    await ingest(journeys.store, journeys.router, event)
    return (await journeys.finish(CHALLENGE, event.customer_id)).status


def challenge_points(journeys: JourneyDriver, customer: str) -> list[int]:
    """The journey's awards (purchases earn their own points too, by event id)."""
    lots = journeys.store.points.lots(customer)
    return [lot.amount for lot in lots if lot.source_ref.startswith("journey/")]


async def test_three_purchases_within_30_days_earn_the_badge_points_and_one_email(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("challenge", first_name="Ana")

    assert await buy(journeys, purchase(customer, T0)) == "not-entered"
    assert await buy(journeys, purchase(customer, T0 + 12 * DAY)) == "not-entered"
    assert await buy(journeys, purchase(customer, T0 + 29 * DAY)) == "completed"
    # A fourth within the window: the challenge is done once (reentry: once).
    assert await buy(journeys, purchase(customer, T0 + 29 * DAY + DAY / 2)) == "not-entered"

    assert journeys.store.badges.of(customer) == [BADGE]
    assert challenge_points(journeys, customer) == [300]
    assert journeys.sent(customer) == [("congratulations", "email")]  # no push token
    [email] = journeys.store.outbox.for_customer(customer)
    assert "300 points" in email.subject
    assert "purchase number 3 in 30 days" in email.text and "Ana" in email.text
    counted = journeys.store.counters.counted(customer, "purchases_30d")
    assert [row.ordinal for row in counted] == [1, 2, 3, 4]


async def test_three_purchases_spread_over_40_days_earn_nothing(journeys: JourneyDriver) -> None:
    customer = journeys.customer("challenge", locale="fr")

    for day in (0, 20, 40):  # never three inside one 30-day window
        assert await buy(journeys, purchase(customer, T0 + day * DAY)) == "not-entered"

    counted = journeys.store.counters.counted(customer, "purchases_30d")
    assert [row.ordinal for row in counted] == [1, 2, 2]
    assert journeys.store.badges.of(customer) == []
    assert challenge_points(journeys, customer) == []
    assert journeys.sent(customer) == []


async def test_a_purchase_routed_twice_counts_once(journeys: JourneyDriver) -> None:
    customer = journeys.customer("challenge", locale="fr")
    await buy(journeys, purchase(customer, T0))
    second = purchase(customer, T0 + DAY)
    await buy(journeys, second)

    # Routed again (a client's retry, a relay after a lost answer): still the second.
    result = await journeys.router.route(second)
    assert result.counters["purchases_30d"] == 2
    await ingest(journeys.store, journeys.router, second)
    assert (await journeys.finish(CHALLENGE, customer)).status == "not-entered"
    assert journeys.store.badges.of(customer) == []

    assert await buy(journeys, purchase(customer, T0 + 2 * DAY)) == "completed"
    assert journeys.store.badges.of(customer) == [BADGE]
    [email] = journeys.store.outbox.for_customer(customer)
    assert email.locale == "fr" and "3e achat en 30 jours" in email.text
