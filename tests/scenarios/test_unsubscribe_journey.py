"""Unsubscribing mid-journey, end to end: a real Temporal server and worker run the
abandoned-cart journey, the customer clicks the one-click link on the API served over real
HTTP, and the journey's next marketing email is not sent."""

from __future__ import annotations

from journeys.app.driver import JourneyDriver, eventually
from journeys.delivery.unsubscribe import make_token
from journeys.process.settings import Settings
from journeys.store import Store
from tests.api_server import FORM, UNSUBSCRIBE, api_client
from tests.props import CART_PROPS

CART = "abandoned-cart"


async def test_unsubscribing_after_the_reminder_stops_the_last_chance_email(
    journeys: JourneyDriver, store: Store, settings: Settings
) -> None:
    customer = journeys.customer()  # email with consent; no phone, no app
    await journeys.send(customer, "cart.updated", cart_total=42.5, **CART_PROPS)
    await journeys.idle(CART, customer)
    await journeys.advance(CART, customer, "2h")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("reminder", "email")]

    await eventually(reminded)
    await journeys.idle(CART, customer)  # waiting for an order, the last chance still ahead

    token = make_token(customer, "email", "marketing", settings=UNSUBSCRIBE)
    async with api_client(store, settings) as api:
        response = await api.post(
            f"/u/{token}", content=b"List-Unsubscribe=One-Click", headers=FORM
        )
    assert response.status_code == 200

    state = await journeys.finish(CART, customer)

    assert state.status == "completed"
    assert journeys.sent(customer) == [("reminder", "email")]
    last_chance = [
        (row.channel, row.status)
        for row in store.ledger.for_customer(customer)
        if row.step_id == "last-chance"
    ]
    assert last_chance == [("push", "suppressed:unreachable"), ("email", "suppressed:no-consent")]
    [change] = store.consent.changes(customer)
    assert (change.channel, change.granted, change.source) == ("email", False, "unsubscribe-link")
