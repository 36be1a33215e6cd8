"""The loyalty program through Temporal: purchases earn points and move tiers, a tier
upgrade starts the VIP invitation, and the daily run expires points and scores RFM."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowFailureError

from journeys.app.driver import JourneyDriver, eventually
from journeys.model.scan_contracts import DailyInput, DailyReport

VIP = "vip-invite"


async def purchase(
    journeys: JourneyDriver, customer: str, amount: float, event_id: str = ""
) -> None:
    await journeys.send(customer, "purchase", event_id or uuid.uuid4().hex, amount=amount)


@pytest.mark.parametrize("amount", ["12 euros", -5, 1e15, 10**400])
async def test_a_purchase_that_cannot_be_applied_fails_at_once_and_changes_nothing(
    journeys: JourneyDriver, amount: object
) -> None:
    """Not a number, negative, or more points than the wallet can hold (cents sent as
    units): the purchase workflow fails once with the reason, never retried for an hour."""
    customer = journeys.customer("bad-buy")
    event_id = uuid.uuid4().hex
    await journeys.send(customer, "purchase", event_id, amount=amount)

    handle = journeys.router.client.get_workflow_handle(f"purchase/{event_id}")
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    while cause.cause is not None:  # the workflow's failure wraps the activity's
        cause = cause.cause
    assert f"purchase event {event_id}:" in str(cause)
    assert (await handle.describe()).raw_description.pending_activities == []
    summary = journeys.store.points.summary(customer, datetime.now(UTC))
    assert (summary["earned"], journeys.store.loyalty.tier_of(customer)) == (0, None)


async def test_a_purchase_earns_points_once_per_event_id(journeys: JourneyDriver) -> None:
    customer = journeys.customer("buyer")
    await purchase(journeys, customer, 42.9, "order-1")
    await purchase(journeys, customer, 42.9, "order-1")  # the app retried

    async def earned() -> None:
        assert journeys.store.points.summary(customer, datetime.now(UTC))["balance"] == 42

    await eventually(earned)
    await purchase(journeys, customer, 10, "order-2")

    async def both() -> None:
        assert journeys.store.points.summary(customer, datetime.now(UTC))["earned"] == 52

    await eventually(both)
    assert len(journeys.store.loyalty.purchases_for(customer)) == 2


async def test_a_purchase_reaching_gold_starts_the_vip_invitation(journeys: JourneyDriver) -> None:
    customer = journeys.customer("vip", first_name="Chloé")
    await purchase(journeys, customer, 400)  # silver: the VIP scenario does not take it

    async def silver() -> None:
        state = journeys.store.loyalty.tier_of(customer)
        assert state is not None and state.tier == "silver"

    await eventually(silver)
    await purchase(journeys, customer, 700)  # 1,100 in twelve months: gold

    async def invited() -> None:
        assert ("invite", "email") in journeys.sent(customer)

    await eventually(invited)
    state = await journeys.state(VIP, customer)
    assert state.status == "running" and state.entries == 1
    [invite] = journeys.store.outbox.for_customer(customer)
    assert "Gold" in invite.text and "Winter Private Sale" in invite.text
    assert journeys.store.events.pending(customer) == []  # every tier event was routed


async def daily(journeys: JourneyDriver, at: datetime) -> DailyReport:
    return await journeys.router.client.execute_workflow(
        "LoyaltyDailyWorkflow",
        DailyInput(at=at),
        id=f"daily/{uuid.uuid4().hex[:8]}",
        task_queue=journeys.router.task_queue,
        result_type=DailyReport,
    )


async def test_the_daily_run_scores_segments_expires_points_and_downgrades(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("daily")
    await purchase(journeys, customer, 400)

    async def silver() -> None:
        state = journeys.store.loyalty.tier_of(customer)
        assert state is not None and state.tier == "silver"

    await eventually(silver)

    tomorrow = await daily(journeys, datetime.now(UTC) + timedelta(days=1))
    assert tomorrow.rfm_scored >= 1 and tomorrow.segment_changes >= 1
    segment = journeys.store.loyalty.segment_of(customer)
    assert segment is not None
    entered = [
        e for e in journeys.store.events.for_customer(customer) if e.name == "segment.entered"
    ]
    assert [(e.properties["segment"], e.routed_at is not None) for e in entered] == [
        (segment.segment, True)
    ]

    in_two_years = await daily(journeys, datetime.now(UTC) + timedelta(days=730))
    assert in_two_years.points_expired >= 400 and in_two_years.tier_changes >= 1
    summary = journeys.store.points.summary(customer, datetime.now(UTC) + timedelta(days=730))
    assert (summary["balance"], summary["expired"]) == (0, 400)
    tier = journeys.store.loyalty.tier_of(customer)
    assert tier is not None and tier.tier == "member"
    names = [e.name for e in journeys.store.events.for_customer(customer)]
    assert "tier.downgraded" in names and journeys.store.events.pending(customer) == []
