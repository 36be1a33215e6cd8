"""Every 10th visit earns a voucher, end to end on the real server: the `visits` counter
(loyalty.yaml, counted by the router once per event id) and the coupon step together."""

from __future__ import annotations

import asyncio

from journeys.app.driver import JourneyDriver, eventually

TENTH_VISIT = "tenth-visit"


async def visit(journeys: JourneyDriver, customer: str, visit_id: str) -> str:
    """Routes one visit and lets its journey run to its end; returns the journey's status."""
    await journeys.send(customer, "store.visit", visit_id, store="Paris Opéra")
    return (await journeys.finish(TENTH_VISIT, customer)).status


async def test_the_tenth_and_twentieth_visits_each_earn_one_voucher_in_the_message(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("visits", first_name="Léa", locale="fr")

    outcomes = [await visit(journeys, customer, f"{customer}-v{n}") for n in range(1, 21)]
    # The same visit sent again (a client's retry) is counted once: no 21st visit.
    await visit(journeys, customer, f"{customer}-v20")

    entered = [n for n, status in enumerate(outcomes, start=1) if status == "completed"]
    assert entered == [10, 20]
    assert journeys.sent(customer) == [("voucher-message", "email")] * 2
    coupons = journeys.store.coupons.for_customer(customer)
    assert len(coupons) == 2 and len({c.code for c in coupons}) == 2
    assert {(c.offer, c.kind, c.percent) for c in coupons} == {("tenth-visit", "percent", 10)}
    messages = sorted(journeys.store.outbox.for_customer(customer), key=lambda m: m.subject)
    assert [m.subject for m in messages] == [
        "Visite n° 10 : 10 % offerts",
        "Visite n° 20 : 10 % offerts",
    ]
    for message in messages:  # each message carries one of the two codes, none carries both
        assert sum(str(c.code) in message.text for c in coupons) == 1


async def test_a_burst_of_visits_still_gives_the_twentieth_its_voucher(
    journeys: JourneyDriver,
) -> None:
    """Visits 10 to 20 routed at once: the 20th comes while the 10th's entry runs and waits
    its turn (reentry queue) behind visits that do not enter (11 to 19)."""
    customer = journeys.customer("burst")
    for n in range(1, 10):
        await visit(journeys, customer, f"{customer}-v{n}")

    await asyncio.gather(
        *(
            journeys.send(customer, "store.visit", f"{customer}-v{n}", store="Lyon")
            for n in range(10, 21)
        )
    )

    async def two_vouchers() -> None:
        await journeys.finish(TENTH_VISIT, customer)
        assert journeys.sent(customer) == [("voucher-message", "email")] * 2

    await eventually(two_vouchers)
    assert len(journeys.store.coupons.for_customer(customer)) == 2
