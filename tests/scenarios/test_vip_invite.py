"""VIP invitation, end to end: RSVP branches and once-per-year re-entry."""

from __future__ import annotations

from journeys.app.driver import JourneyDriver, eventually
from tests.props import VIP_PROPS

VIP = "vip-invite"


async def test_rsvp_before_timeout_confirms_and_sends_no_reminder(journeys: JourneyDriver) -> None:
    customer = journeys.customer(first_name="Chloé", locale="fr")
    await journeys.send(
        customer, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_PROPS
    )
    await journeys.idle(VIP, customer)
    await journeys.advance(VIP, customer, "1d")
    await journeys.send(customer, "vip.rsvp", guests=2)

    state = await journeys.finish(VIP, customer)

    assert state.status == "completed"  # after holding out the once-per-year period
    assert journeys.sent(customer) == [("invite", "email"), ("confirmation", "email")]
    assert state.goal_reached_at is not None
    invite = journeys.store.outbox.for_customer(customer)[0]
    assert invite.locale == "fr"
    assert "Chloé" in invite.text


async def test_no_rsvp_gets_a_reminder(journeys: JourneyDriver) -> None:
    customer = journeys.customer(phone="+33600000010", consent={"email": True, "sms": True})
    await journeys.send(
        customer, "tier.upgraded", new_tier="platinum", previous_tier="gold", **VIP_PROPS
    )
    await journeys.idle(VIP, customer)
    await journeys.advance(VIP, customer, "3d")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("invite", "email"), ("rsvp-reminder", "sms")]

    await eventually(reminded)


async def test_not_a_vip_tier_does_not_enter(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(
        customer, "tier.upgraded", new_tier="silver", previous_tier="bronze", **VIP_PROPS
    )
    state = await journeys.finish(VIP, customer)
    assert state.status == "not-entered"
    assert journeys.sent(customer) == []


async def test_reentry_once_per_year(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(
        customer, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_PROPS
    )
    await journeys.idle(VIP, customer)
    await journeys.advance(VIP, customer, "4d")  # invite, no RSVP, reminder; now holding
    state = await journeys.idle(VIP, customer)
    assert state.status == "holding"

    await journeys.send(
        customer, "tier.upgraded", new_tier="platinum", previous_tier="gold", **VIP_PROPS
    )
    await journeys.advance(VIP, customer, "300d")
    state = await journeys.idle(VIP, customer)
    assert state.entries == 1
    assert [m.step_id for m in state.messages] == ["invite", "rsvp-reminder"]
    assert state.events[-1].effect == "ignored: re-entry policy 'once_per'"

    await journeys.finish(VIP, customer)  # the year is over: the journey ends
    await journeys.send(
        customer, "tier.upgraded", new_tier="platinum", previous_tier="gold", **VIP_PROPS
    )
    await journeys.idle(VIP, customer)

    async def invited_again() -> None:
        steps = [step for step, _ in journeys.sent(customer)]
        assert steps == ["invite", "rsvp-reminder", "invite"]

    await eventually(invited_again)
