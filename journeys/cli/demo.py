"""The demo: six customers walk through the shipped scenarios in a few seconds.

Runs on the real embedded server. Each journey's clock is moved with per-workflow time
skipping (the server runs with it enabled), so "one hour later" takes milliseconds while
every timer, signal and activity is real.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.cli.tables import console, outbox_table, status_table
from journeys.loyalty.program import Expiry, LoyaltyProgram, PointsRules
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import Router

CART, VIP, BIRTHDAY, EXPIRY = "abandoned-cart", "vip-invite", "birthday", "points-expiry"
# A welcome bonus that expires in 20 days, so the points-expiry journey has work to do.
WELCOME_BONUS = PointsRules(expiry=Expiry(after=timedelta(days=20)))


async def run_demo(client: Client, settings: Settings) -> None:
    skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=False))
    registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
    store = Store(settings.store_url)
    program = LoyaltyProgram.load(settings.loyalty_file)
    router = Router(skipper.client, registry, settings.task_queue, loyalty=program, store=store)
    driver = JourneyDriver(skipper, router, store)
    run = uuid.uuid4().hex[:4]
    started = datetime.now().astimezone()

    def customer(name: str, **profile: object) -> str:
        customer_id = f"{name.lower()}-{run}"
        store.customers.upsert(
            customer_id,
            email=f"{name.lower()}@example.com",
            attributes={"first_name": name},
            **profile,  # type: ignore[arg-type]
        )
        return customer_id

    ana = customer("Ana", locale="fr", phone="+33612345678", consent={"email": True, "sms": True})
    ben = customer("Ben", consent={"email": True})
    chloe = customer("Chloé", locale="fr", consent={"email": True})
    dan = customer("Dan", phone="+14155550123", consent={"email": True, "sms": True})
    tomorrow_in_tokyo = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo("Asia/Tokyo"))
    eve = customer(
        "Eve",
        time_zone="Asia/Tokyo",
        birthday=tomorrow_in_tokyo.date().replace(year=1992).isoformat(),
        consent={"email": True},
    )
    fay = customer("Fay", locale="fr", time_zone="Europe/Paris", consent={"email": True})

    console.print("[bold]Ana[/] leaves a €129.90 cart; no order comes.")
    await driver.send(
        ana,
        "cart.updated",
        cart_total=129.90,
        currency="EUR",
        item_count=3,
        cart_url="https://shop.example/cart",
    )
    console.print("[bold]Ben[/] leaves a €45 cart and orders 30 minutes later.")
    await driver.send(
        ben,
        "cart.updated",
        cart_total=45,
        currency="EUR",
        item_count=1,
        cart_url="https://shop.example/cart",
    )
    await driver.idle(CART, ben)
    await driver.advance(CART, ben, "30m")
    await driver.send(ben, "order.completed", order_id="A-1001", total=45)
    console.print("[bold]Chloé[/] buys for €400, then €700: gold. She RSVPs the next day.")
    await driver.send(chloe, "purchase", amount=400.0)
    await driver.send(chloe, "purchase", amount=700.0)
    await driver.idle(VIP, chloe)  # tier.upgraded started the invitation
    await driver.advance(VIP, chloe, "1d")
    await driver.send(chloe, "vip.rsvp", guests=2)
    console.print("[bold]Dan[/] buys for €3,200: platinum. He never answers the invitation.")
    await driver.send(dan, "purchase", amount=3200.0)
    await driver.idle(VIP, dan)
    console.print("[bold]Eve[/], in Tokyo, turns 34 tomorrow: the hourly birthday scan finds her.")
    await driver.scan(BIRTHDAY, tomorrow_in_tokyo)
    console.print("[bold]Fay[/] has 500 welcome points that expire in 20 days; she spends 200.")
    now = datetime.now(UTC)
    store.points.earn(
        fay, 500, source_ref=f"{fay}/welcome", reason="welcome", at=now, rules=WELCOME_BONUS
    )
    await driver.scan(EXPIRY, now)
    await driver.idle(EXPIRY, fay)
    store.points.redeem(fay, 200, source_ref=f"{fay}/order", reason="order", at=now)

    await driver.finish(CART, ana)
    await driver.finish(CART, ben)
    await driver.finish(BIRTHDAY, eve)
    await driver.finish(EXPIRY, fay)
    for vip_customer in (chloe, dan):  # past the RSVP window; they then hold re-entry for a year
        await driver.idle(VIP, vip_customer)
        await driver.advance(VIP, vip_customer, "4d")
        await driver.idle(VIP, vip_customer)

    people = (ana, ben, chloe, dan, eve, fay)
    messages = [m for c in people for m in store.outbox.for_customer(c)]
    console.print(outbox_table(sorted(messages, key=lambda m: (m.customer_id, m.journey_time))))
    states = [
        (f"{scenario} / {c}", await driver.state(scenario, c))
        for scenario, c in (
            (CART, ana),
            (CART, ben),
            (VIP, chloe),
            (VIP, dan),
            (BIRTHDAY, eve),
            (EXPIRY, fay),
        )
    ]
    console.print(status_table(states))
    elapsed = (datetime.now().astimezone() - started).total_seconds()
    console.print(
        f"{len(messages)} messages rendered in {elapsed:.1f}s "
        "of wall time. See them again with 'journeys outbox'; journeys and their histories are "
        f"in the Temporal Web UI at http://127.0.0.1:{settings.embedded_ui_port}."
    )
