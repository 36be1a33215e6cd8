"""Records journey histories for the replay test: ``python -m tests.histories.record [NAME...]``.

Run it when a change to the interpreter is meant to be compatible, *before* making the
change, so the committed histories are what journeys in flight would replay. Never
re-record to make a failing replay test pass: that failure is a journey that would break.
With names, only those are recorded: a history of new behaviour is added without
re-recording the older ones, which stand for journeys started by older versions.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.embedded import start_time_skipping
from journeys.temporal.routing import Router
from worker import build_worker

HERE = Path(__file__).parent
REPO = HERE.parent.parent
VIP_EVENT = {"sale_name": "Winter Private Sale", "sale_date": "2026-12-05",
             "sale_url": "https://shop.example/private-sale"}


async def record(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), scenarios_dir=REPO / "scenarios",
                            templates_dir=REPO / "templates", task_queue="record")
        store = Store(settings.store_url)
        store.create_schema()
        env = await start_time_skipping()
        try:
            async with build_worker(env.client, settings, store=store):
                program = LoyaltyProgram.load(REPO / "loyalty.yaml")
                registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir,
                                                 counters=program.counters)
                router = Router(env.client, registry, "record", loyalty=program, store=store)
                driver = JourneyDriver(env, router, store)  # type: ignore[arg-type]
                for name in names or list(SCRIPTS):
                    play = SCRIPTS[name]
                    scenario_id, customer = await play(driver)
                    await driver.finish(scenario_id, customer)
                    history = await driver.handle(scenario_id, customer).fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
                    print("recorded", name, len(history.events), "events")
        finally:
            await env.shutdown()


async def cart_full_with_sms(d: JourneyDriver) -> tuple[str, str]:
    c = d.customer(phone="+33600000000", consent={"email": True, "sms": True})
    await d.send(c, "cart.updated", cart_total=150, currency="EUR", item_count=2, cart_url="https://x")
    return "abandoned-cart", c


async def cart_restart_then_order(d: JourneyDriver) -> tuple[str, str]:
    c = d.customer()
    await d.send(c, "cart.updated", cart_total=20, currency="EUR", item_count=1, cart_url="https://x")
    await d.idle("abandoned-cart", c)
    await d.advance("abandoned-cart", c, "45m")
    await d.send(c, "cart.updated", cart_total=30, currency="EUR", item_count=2, cart_url="https://x")
    await d.idle("abandoned-cart", c)
    await d.advance("abandoned-cart", c, "2h")
    await d.idle("abandoned-cart", c)
    await d.send(c, "order.completed", order_id="o-1")
    return "abandoned-cart", c


async def vip_rsvp(d: JourneyDriver) -> tuple[str, str]:
    c = d.customer(locale="fr", first_name="Chloé")
    await d.send(c, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_EVENT)
    await d.idle("vip-invite", c)
    await d.advance("vip-invite", c, "1d")
    await d.send(c, "vip.rsvp", guests=2)
    await d.send(c, "tier.upgraded", new_tier="platinum", previous_tier="gold", **VIP_EVENT)
    return "vip-invite", c


async def vip_no_rsvp(d: JourneyDriver) -> tuple[str, str]:
    c = d.customer(phone="+33600000001", consent={"email": True, "sms": True})
    await d.send(c, "tier.upgraded", new_tier="gold", previous_tier="silver", **VIP_EVENT)
    return "vip-invite", c


async def cart_entry_if_fails(d: JourneyDriver) -> tuple[str, str]:
    """step-errors: the entry condition fails on an event without cart_total: no entry."""
    c = d.customer()
    await d.send(c, "cart.updated", currency="EUR", item_count=1, cart_url="https://x")
    return "abandoned-cart", c


async def expiry_by_hand_without_dates(d: JourneyDriver) -> tuple[str, str]:
    """step-errors: a points-expiry journey started by hand with no dates: the notice fails
    to render (a failed message), then the wait_until fails and the entry ends there."""
    c = d.customer()
    await d.send(c, "scheduled.points-expiry")
    return "points-expiry", c


async def birthday_structured_keys(d: JourneyDriver) -> tuple[str, str]:
    """structured-keys: a points award and a greeting keyed journey:<scenario>:<customer>:..."""
    at = datetime.now(UTC) + timedelta(days=2)
    c = d.customer(time_zone="Europe/Paris", birthday=at.date().replace(year=1990).isoformat())
    await d.scan("birthday", at)
    return "birthday", c


async def cart_batched_facts(d: JourneyDriver) -> tuple[str, str]:
    """batched-facts: the one patch marker; entered and waiting written together before the
    first wait, the end carried by the last send (the whole journey: three sends)."""
    c = d.customer(phone="+33600000002", consent={"email": True, "sms": True})
    await d.send(c, "cart.updated", cart_total=150, currency="EUR", item_count=2, cart_url="https://x")
    return "abandoned-cart", c


async def win_back_redeemed(d: JourneyDriver) -> tuple[str, str]:
    """A coupon step, its code in the offer, and the redemption's coupon.redeemed received."""
    from journeys.temporal.relay import route_pending

    c = d.customer(first_name="Ana")
    await d.send(c, "scheduled.win-back", last_seen_at="2026-01-01T10:00:00+00:00")
    await d.idle("win-back", c)
    [coupon] = d.store.coupons.for_customer(c)
    assert coupon.code is not None
    d.store.coupons.redeem(coupon.code, customer_id=c, order_id="order-1", at=datetime.now(UTC))
    await route_pending(d.store, d.router, customer_id=c)
    return "win-back", c


async def referral_queued(d: JourneyDriver) -> tuple[str, str]:
    """reentry queue: a second referral.completed during the first entry waits its turn."""
    c = d.customer(first_name="Ana")
    for friend in ("Bob", "Cleo"):
        await d.send(c, "referral.completed", f"{c}-{friend}", role="referrer", referral_id=1,
                     code="K7Q2M9XP", referrer_id=c, referrer_first_name="Ana",
                     friend_id=f"f-{friend}", friend_first_name=friend, purchase_amount=10.0,
                     currency="EUR")
    return "referral", c


async def challenge_badge(d: JourneyDriver) -> tuple[str, str]:
    """Counters carried by the trigger event, and an update step awarding a badge."""
    from journeys.model.events import Event
    from journeys.temporal.ingest import ingest

    c = d.customer(first_name="Ana")
    start = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    for day in (0, 12, 29):
        event = Event(id=f"{c}-order-{day}", name="purchase", customer_id=c,
                      properties={"amount": 20, "currency": "EUR"},
                      occurred_at=start + timedelta(days=day))
        await ingest(d.store, d.router, event)
        await d.finish("purchase-challenge", c)
    return "purchase-challenge", c


SCRIPTS = {
    "cart_full_with_sms": cart_full_with_sms,
    "cart_restart_then_order": cart_restart_then_order,
    "vip_rsvp": vip_rsvp,
    "vip_no_rsvp": vip_no_rsvp,
    "cart_entry_if_fails": cart_entry_if_fails,
    "expiry_by_hand_without_dates": expiry_by_hand_without_dates,
    "birthday_structured_keys": birthday_structured_keys,
    "cart_batched_facts": cart_batched_facts,
    "win_back_redeemed": win_back_redeemed,
    "referral_queued": referral_queued,
    "challenge_badge": challenge_badge,
}

if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
