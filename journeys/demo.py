"""The demo: four customers walk through the shipped scenarios in a few seconds.

Runs on the real embedded server. Each journey's clock is moved with per-workflow time
skipping (the server runs with it enabled), so "one hour later" takes milliseconds while
every timer, signal and activity is real.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from journeys.console import console, outbox_table, status_table
from journeys.driver import JourneyDriver
from journeys.registry import ScenarioRegistry
from journeys.routing import Router
from journeys.settings import Settings
from journeys.store import Store

CART, VIP = "abandoned-cart", "vip-invite"


async def run_demo(client: Client, settings: Settings) -> None:
    skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=False))
    registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
    store = Store(settings.store_url)
    driver = JourneyDriver(skipper, Router(skipper.client, registry, settings.task_queue), store)
    run = uuid.uuid4().hex[:4]
    started = datetime.now().astimezone()

    def customer(name: str, **profile: object) -> str:
        customer_id = f"{name.lower()}-{run}"
        store.upsert_customer(
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
    console.print("[bold]Chloé[/] is upgraded to gold and RSVPs the next day.")
    vip = {
        "sale_name": "Winter Private Sale",
        "sale_date": "2026-12-05",
        "sale_url": "https://shop.example/private-sale",
    }
    await driver.send(chloe, "tier.upgraded", new_tier="gold", previous_tier="silver", **vip)
    await driver.idle(VIP, chloe)
    await driver.advance(VIP, chloe, "1d")
    await driver.send(chloe, "vip.rsvp", guests=2)
    console.print("[bold]Dan[/] is upgraded to platinum and never answers.")
    await driver.send(dan, "tier.upgraded", new_tier="platinum", previous_tier="gold", **vip)

    await driver.finish(CART, ana)
    await driver.finish(CART, ben)
    for vip_customer in (chloe, dan):  # past the RSVP window; they then hold re-entry for a year
        await driver.idle(VIP, vip_customer)
        await driver.advance(VIP, vip_customer, "4d")
        await driver.idle(VIP, vip_customer)

    people = (ana, ben, chloe, dan)
    messages = [m for c in people for m in store.outbox_for(c)]
    console.print(outbox_table(sorted(messages, key=lambda m: (m.customer_id, m.journey_time))))
    states = [
        (f"{scenario} / {c}", await driver.state(scenario, c))
        for scenario, c in ((CART, ana), (CART, ben), (VIP, chloe), (VIP, dan))
    ]
    console.print(status_table(states))
    elapsed = (datetime.now().astimezone() - started).total_seconds()
    console.print(
        f"{len(messages)} messages rendered in {elapsed:.1f}s "
        "of wall time. See them again with 'journeys outbox'; journeys and their histories are "
        f"in the Temporal Web UI at http://127.0.0.1:{settings.embedded_ui_port}."
    )
