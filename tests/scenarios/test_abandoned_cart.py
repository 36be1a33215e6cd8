"""Abandoned cart, end to end: router → real Temporal server → worker → outbox."""

from __future__ import annotations

from journeys.app.driver import JourneyDriver, eventually
from tests.props import CART_PROPS

CART = "abandoned-cart"


async def test_reminder_goes_out_after_one_hour(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(customer, "cart.updated", cart_total=42.5, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "59m")
    state = await journeys.idle(CART, customer)
    assert journeys.sent(customer) == []
    assert (state.status, state.current_step) == ("running", "wait-1")
    assert state.waiting_until is not None
    assert [e.name for e in state.events] == ["cart.updated"]

    await journeys.advance(CART, customer, "2m")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("reminder", "email")]

    await eventually(reminded)
    message = journeys.store.outbox.for_customer(customer)[0]
    assert "42.50" in message.text


async def test_order_during_the_first_wait_stops_every_message(journeys: JourneyDriver) -> None:
    customer = journeys.customer(phone="+33600000001", consent={"email": True, "sms": True})
    await journeys.send(customer, "cart.updated", cart_total=250, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "30m")
    await journeys.send(customer, "order.completed", order_id="o-1")

    state = await journeys.finish(CART, customer)

    assert state.status == "exited"
    assert state.exit_reason == "exit on order.completed"
    assert state.goal_reached_at is not None
    assert journeys.sent(customer) == []


async def test_order_after_the_reminder_stops_later_messages(journeys: JourneyDriver) -> None:
    customer = journeys.customer(phone="+33600000002", consent={"email": True, "sms": True})
    await journeys.send(customer, "cart.updated", cart_total=250, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "2h")
    await journeys.idle(CART, customer)
    await journeys.send(customer, "order.completed", order_id="o-2")

    state = await journeys.finish(CART, customer)

    assert state.status == "exited"
    assert journeys.sent(customer) == [("reminder", "email")]


async def test_second_cart_update_restarts_the_timer(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(customer, "cart.updated", cart_total=20, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "45m")
    await journeys.send(customer, "cart.updated", cart_total=35, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "30m")  # 75 min after the first update
    await journeys.idle(CART, customer)
    assert journeys.sent(customer) == []

    await journeys.advance(CART, customer, "31m")  # 61 min after the second

    async def reminded_once() -> None:
        assert journeys.sent(customer) == [("reminder", "email")]

    await eventually(reminded_once)
    assert "35.00" in journeys.store.outbox.for_customer(customer)[0].text
    state = await journeys.state(CART, customer)
    assert state.entries == 2


async def test_sms_nudge_only_for_big_carts_with_sms_consent(journeys: JourneyDriver) -> None:
    small = journeys.customer(phone="+33600000003", consent={"email": True, "sms": True})
    no_consent = journeys.customer(phone="+33600000004", consent={"email": True, "sms": False})
    eligible = journeys.customer(phone="+33600000005", consent={"email": True, "sms": True})
    await journeys.send(small, "cart.updated", cart_total=99.99, **CART_PROPS)
    await journeys.send(no_consent, "cart.updated", cart_total=150, **CART_PROPS)
    await journeys.send(eligible, "cart.updated", cart_total=150, **CART_PROPS)

    for customer in (small, no_consent, eligible):
        state = await journeys.finish(CART, customer)
        assert state.status == "completed"

    assert ("sms-nudge", "sms") not in journeys.sent(small)
    assert ("sms-nudge", "sms") not in journeys.sent(no_consent)
    assert ("sms-nudge", "sms") in journeys.sent(eligible)


async def test_fallback_list_uses_the_first_reachable_channel(journeys: JourneyDriver) -> None:
    with_app = journeys.customer(push_token="device-1", consent={"email": True, "push": True})
    without_app = journeys.customer(consent={"email": True, "push": True})
    for customer in (with_app, without_app):
        await journeys.send(customer, "cart.updated", cart_total=10, **CART_PROPS)
        await journeys.finish(CART, customer)

    assert journeys.sent(with_app)[-1] == ("last-chance", "push")
    assert journeys.sent(without_app)[-1] == ("last-chance", "email")


async def test_cart_without_total_does_not_enter(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(customer, "cart.updated", cart_total=0, **CART_PROPS)

    state = await journeys.finish(CART, customer)

    assert state.status == "not-entered"
    assert journeys.sent(customer) == []


async def test_same_event_id_twice_is_applied_once(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(customer, "cart.updated", event_id="evt-dup-1", cart_total=10, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "45m")
    await journeys.send(customer, "cart.updated", event_id="evt-dup-1", cart_total=10, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "16m")  # a restart would have pushed it to 1h45

    async def reminded() -> None:
        assert journeys.sent(customer) == [("reminder", "email")]

    await eventually(reminded)
    state = await journeys.state(CART, customer)
    assert state.entries == 1
    assert [e.id for e in state.events] == ["evt-dup-1"]


async def test_journeys_are_searchable_by_customer_and_scenario(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await journeys.send(customer, "cart.updated", cart_total=10, **CART_PROPS)
    client = journeys.router.client

    async def listed() -> None:
        query = f'CustomerId = "{customer}" AND ScenarioId = "{CART}"'
        ids = [w.id async for w in client.list_workflows(query)]
        assert ids == [f"journey/{CART}/{customer}"]

    await eventually(listed)
