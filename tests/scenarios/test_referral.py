"""Referrals, end to end on the real server: a friend signs up with a code through the API,
their first purchase (a ``purchase`` event through the relay and the PurchaseWorkflow)
completes the referral, and the ``referral`` scenario rewards and messages both
customers once; a second purchase does nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlmodel import select

from journeys.app.driver import JourneyDriver, eventually
from journeys.store.tracking_tables import EventRecord

REFERRAL = "referral"


async def sign_up(api: httpx.AsyncClient, code: str, friend: str) -> None:
    answer = await api.post("/v1/referrals", json={"code": code, "customer_id": friend})
    assert answer.status_code == 201, answer.text


async def buy(
    api: httpx.AsyncClient, journeys: JourneyDriver, customer: str, amount: float
) -> None:
    """Posts a purchase and waits until the PurchaseWorkflow applied it (its points are in)."""
    before = len(journeys.store.loyalty.purchases_for(customer))
    event = {"id": uuid.uuid4().hex, "customer_id": customer, "name": "purchase"}
    answer = await api.post("/v1/events", json={**event, "properties": {"amount": amount}})
    assert answer.status_code == 202, answer.text

    async def applied() -> None:
        assert len(journeys.store.loyalty.purchases_for(customer)) == before + 1
        handle = journeys.router.client.get_workflow_handle(f"purchase/{event['id']}")
        await handle.result()  # recorded, earned, and the referral events routed

    await eventually(applied)


def balance(journeys: JourneyDriver, customer: str) -> int:
    return int(journeys.store.points.summary(customer, datetime.now(UTC))["balance"])


def referral_events(journeys: JourneyDriver, customer: str) -> list[EventRecord]:
    with journeys.store.database.session() as session:
        query = select(EventRecord).where(
            EventRecord.customer_id == customer, EventRecord.name == "referral.completed"
        )
        return list(session.exec(query).all())


async def test_a_first_purchase_rewards_and_messages_both_customers_once(
    journeys: JourneyDriver, api: httpx.AsyncClient
) -> None:
    referrer = journeys.customer("ref", first_name="Chloé", locale="fr")
    friend = journeys.customer("friend", first_name="Sam")
    code = (await api.get(f"/v1/customers/{referrer}/referral")).json()["code"]
    await sign_up(api, code, friend)

    await buy(api, journeys, friend, 59.9)

    thanks = await journeys.idle(REFERRAL, referrer)
    welcome = await journeys.idle(REFERRAL, friend)
    assert (thanks.status, welcome.status) == ("completed", "completed")
    assert journeys.sent(referrer) == [("thanks", "email")]
    assert journeys.sent(friend) == [("welcome", "email")]
    assert balance(journeys, referrer) == 500
    assert balance(journeys, friend) == 59 + 200  # the purchase's points, then the welcome
    [to_referrer] = journeys.store.outbox.for_customer(referrer)
    assert to_referrer.locale == "fr" and "Sam a fait son premier achat" in to_referrer.subject
    assert code in to_referrer.text  # their code, to invite more friends
    [to_friend] = journeys.store.outbox.for_customer(friend)
    assert "You joined through Chloé" in to_friend.text
    friend_code = journeys.store.referrals.code_for(friend)
    assert friend_code != code and friend_code in to_friend.text
    summary = (await api.get(f"/v1/customers/{referrer}/referral")).json()
    assert (summary["referred"], summary["completed"]) == (1, 1)

    await buy(api, journeys, friend, 20)  # a second purchase: the referral is done

    assert len(referral_events(journeys, referrer)) == len(referral_events(journeys, friend)) == 1
    assert journeys.store.events.pending(referrer) == journeys.store.events.pending(friend) == []
    assert (await journeys.state(REFERRAL, friend)).entries == 1
    assert (await journeys.state(REFERRAL, referrer)).entries == 1
    assert journeys.sent(referrer) == [("thanks", "email")]
    assert journeys.sent(friend) == [("welcome", "email")]
    assert balance(journeys, referrer) == 500 and balance(journeys, friend) == 59 + 200 + 20


async def test_a_referrer_is_rewarded_for_each_friend(
    journeys: JourneyDriver, api: httpx.AsyncClient
) -> None:
    referrer = journeys.customer("ref", first_name="Ana")
    code = journeys.store.referrals.code_for(referrer)
    for name in ("Bob", "Cleo"):
        friend = journeys.customer("friend", first_name=name)
        await sign_up(api, code, friend)
        await buy(api, journeys, friend, 10)

        async def thanked(name: str = name) -> None:
            messages = journeys.store.outbox.for_customer(referrer)
            assert any(f"{name} made their first purchase" in m.subject for m in messages)

        await eventually(thanked)
        await journeys.idle(REFERRAL, referrer)

    assert journeys.sent(referrer) == [("thanks", "email"), ("thanks", "email")]
    assert balance(journeys, referrer) == 1000


async def test_two_friends_a_moment_apart_give_the_referrer_two_whole_entries(
    journeys: JourneyDriver,
) -> None:
    """``reentry: queue``: the second referral.completed comes while the first entry is still
    running; with ``restart`` it would cut that entry short (its points or its thank-you)."""
    referrer = journeys.customer("ref", first_name="Ana")

    def completed(friend: str, name: str) -> dict[str, object]:
        return {
            "role": "referrer",
            "referral_id": 1,
            "code": "K7Q2M9XP",
            "referrer_id": referrer,
            "referrer_first_name": "Ana",
            "friend_id": friend,
            "friend_first_name": name,
            "purchase_amount": 10.0,
            "currency": "EUR",
        }

    await asyncio.gather(
        journeys.send(referrer, "referral.completed", **completed("f-bob", "Bob")),
        journeys.send(referrer, "referral.completed", **completed("f-cleo", "Cleo")),
    )

    async def both_thanked() -> None:
        subjects = [m.subject for m in journeys.store.outbox.for_customer(referrer)]
        assert len(subjects) == 2, subjects
        assert {"Bob", "Cleo"} == {n for n in ("Bob", "Cleo") if any(n in s for s in subjects)}

    await eventually(both_thanked)
    state = await journeys.idle(REFERRAL, referrer)
    assert state.entries == 2 and state.status == "completed"
    assert journeys.sent(referrer) == [("thanks", "email"), ("thanks", "email")]
    assert balance(journeys, referrer) == 1000
