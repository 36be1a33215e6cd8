"""Win-back, end to end on the real server: the scenario issues one voucher whose code is in
the delivered message, the API's redemption emits ``coupon.redeemed`` which the waiting
journey receives, a customer who does not redeem gets one reminder, and a second entry gets
no second voucher (``per_customer: 1``).

Journeys start as the daily audience scan would start them, with the scan's trigger event
sent to one customer (a scan over the shared test store would pick up every customer
other tests have seen).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from journeys.app.driver import JourneyDriver, eventually
from journeys.rendering.locale_format import local_date

WIN_BACK = "win-back"
TRIGGER = "scheduled.win-back"


async def enter(journeys: JourneyDriver, customer: str, occasion: str = "1") -> None:
    last_seen = (datetime.now(UTC) - timedelta(days=91)).isoformat()
    await journeys.send(customer, TRIGGER, f"scan-{customer}-{occasion}", last_seen_at=last_seen)


async def test_the_voucher_is_in_the_message_and_redeeming_it_thanks_the_customer(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = journeys.customer("wb", first_name="Chloé", locale="fr")
    await enter(journeys, customer)
    state = await journeys.idle(WIN_BACK, customer)
    assert state.current_step == "wait-for-redemption"

    [coupon] = journeys.store.coupons.for_customer(customer)
    [offer] = journeys.store.outbox.for_customer(customer)
    assert (coupon.offer, coupon.kind, coupon.percent) == ("winback-15", "percent", 15)
    last_day = journeys.store.coupons.view(coupon, coupon.issued_at)["expires_on"]
    assert coupon.code in offer.text and coupon.code in (offer.html or "")
    assert "15 % de remise" in offer.subject and "Chloé" in offer.text
    assert f"valable jusqu'au {local_date(last_day, 'fr')}" in offer.text

    body = {"customer_id": customer, "order_id": f"order-{customer}", "amount": 64.5}
    answer = await api.post(f"/v1/coupons/{coupon.code.lower()}/redeem", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "redeemed"
    again = await api.post(f"/v1/coupons/{coupon.code}/redeem", json=body)
    assert again.json() == answer.json()

    state = await journeys.finish(WIN_BACK, customer)
    assert journeys.sent(customer) == [("offer", "email"), ("thanks", "email")]
    assert state.goal_reached_at is not None
    redeemed = [e for e in state.events if e.name == "coupon.redeemed"]
    assert len(redeemed) == 1  # the same order twice is one redemption, one event


async def test_a_voucher_not_redeemed_gets_one_reminder_a_week_before_it_expires(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("wb", consent={"push": True}, push_token="device-1", email=None)
    await enter(journeys, customer)
    await journeys.idle(WIN_BACK, customer)
    await journeys.advance(WIN_BACK, customer, "23d")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("offer", "push"), ("reminder", "push")]

    await eventually(reminded)
    [coupon] = journeys.store.coupons.for_customer(customer)
    reminder = journeys.store.outbox.for_customer(customer)[1]
    assert coupon.code in reminder.text
    state = await journeys.finish(WIN_BACK, customer)
    assert state.status == "completed" and state.goal_reached_at is None


async def test_a_second_entry_gets_no_second_voucher_and_no_message(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("wb")
    await enter(journeys, customer, "first-absence")
    await journeys.idle(WIN_BACK, customer)
    await enter(journeys, customer, "second-absence")  # restarts the journey: a new entry

    state = await journeys.finish(WIN_BACK, customer)

    assert state.entries == 2
    assert state.exit_reason == "coupon limit reached at step 'voucher'"
    assert len(journeys.store.coupons.for_customer(customer)) == 1
    assert journeys.sent(customer) == [("offer", "email")]
    notes = [entry.note for entry in state.timeline if entry.step_id == "voucher"]
    assert notes[-1].startswith("no coupon: limit reached")
