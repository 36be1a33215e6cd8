"""Messages/s through the deliver activity vs a bare httpx POST loop, to the same local sink.

The deliver side does everything a real SMS send does: ledger reads and the reservation
under the frequency cap, the fresh customer read, consent, rendering the Jinja template,
the Twilio adapter's form POST (to a local Twilio-shaped sink), marking the ledger sent.
The bare side POSTs the same form with the same pooled client. Quiet hours are off so
the figures do not depend on the time of day. Rounds alternate to share the noise. It runs
twice: with the sink answering after 100 ms (a provider's typical latency) and at once (the
strict case, where the ledger's two durable writes per message weigh most); the headline
``ratio=`` is the strict one.

    python bench/delivery.py            # 500 messages per round, 3 rounds, 20 at a time
    python bench/delivery.py 2000 3
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from temporalio.testing import ActivityEnvironment  # noqa: E402

from activities.channels.base import OutgoingMessage  # noqa: E402
from activities.channels.http import build_http_client  # noqa: E402
from activities.channels.twilio import TwilioAdapter, TwilioSettings, twilio_form  # noqa: E402
from activities.deliver import DeliveryActivities  # noqa: E402
from journeys.context import build_context  # noqa: E402
from journeys.contracts import DeliverRequest, JourneyContext  # noqa: E402
from journeys.events import Event  # noqa: E402
from journeys.frequency_cap import FrequencyCap  # noqa: E402
from journeys.governance import Governance  # noqa: E402
from journeys.quiet_hours import QuietHours  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.templating import Templates  # noqa: E402
from tests.http_sink import HttpSink, Reply  # noqa: E402

CONCURRENCY = 20
ACCOUNT = "AC00000000000000000000000000000000"
PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CART = {"cart_total": 129.9, "currency": "EUR", "item_count": 2, "cart_url": "https://x"}


async def bounded(calls: list[Callable[[], Awaitable[object]]]) -> float:
    """Runs the calls CONCURRENCY at a time; returns calls per second."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one(call) for call in calls))
    return len(calls) / (time.perf_counter() - started)


def request(customer_id: str) -> DeliverRequest:
    event = Event(
        id=uuid.uuid4().hex, name="cart.updated", customer_id=customer_id, properties=CART
    )
    return DeliverRequest(
        delivery_key=f"bench/{customer_id}/{uuid.uuid4().hex}/sms-nudge",
        workflow_id=f"journey/abandoned-cart/{customer_id}",
        run_id="bench",
        scenario_id="abandoned-cart",
        step_id="sms-nudge",
        channels=["sms"],
        template="abandoned_cart/nudge",
        purpose="marketing",
        context=JourneyContext(customer_id=customer_id, event=event, now=datetime.now(UTC)),
    )


async def measure(count: int, rounds: int, latency: float) -> tuple[float, float]:
    """Best-round msg/s through deliver and through the bare loop, for one sink latency."""
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder, HttpSink() as sink:
        sink.reply(PATH, Reply(201, {"sid": "SM" + "0" * 32, "status": "queued"}, delay=latency))
        store = Store(f"sqlite:///{Path(folder) / 'journeys.db'}")
        store.create_schema()
        settings = TwilioSettings(
            account_sid=ACCOUNT, auth_token="token", from_number="+15550001111", base_url=sink.url
        )
        client = build_http_client()
        governance = Governance(QuietHours({}), FrequencyCap.parse("3/7d"))
        adapters = {"sms": TwilioAdapter(client, settings)}
        delivery = DeliveryActivities(store, Templates(REPO / "templates"), adapters, governance)
        environment = ActivityEnvironment()
        auth = (ACCOUNT, "token")
        through_deliver: list[float] = []
        bare: list[float] = []
        try:
            for number in range(rounds):
                customers = [f"r{number}-{i}" for i in range(count)]  # fresh: under the cap
                for customer in customers:
                    store.upsert_customer(
                        customer,
                        phone="+33612345678",
                        consent={"sms": True},
                        attributes={"first_name": "Ana"},
                    )
                form = twilio_form(sample_message(store, customers[0]), settings)
                through_deliver.append(
                    await bounded(
                        [
                            lambda c=c: environment.run(delivery.deliver, request(c))
                            for c in customers
                        ]
                    )
                )
                bare.append(
                    await bounded(
                        [
                            lambda f=form: client.post(sink.url + PATH, data=f, auth=auth)
                            for _ in customers
                        ]
                    )
                )
                print(
                    f"sink latency {latency * 1000:.0f} ms, round {number + 1}: "
                    f"deliver {through_deliver[-1]:.0f} msg/s, bare httpx {bare[-1]:.0f} msg/s",
                    flush=True,
                )
        finally:
            await client.aclose()
    return max(through_deliver), max(bare)


async def main(count: int, rounds: int) -> None:
    realistic = await measure(count, rounds, latency=0.1)
    instant = await measure(count, rounds, latency=0.0)
    print(f"messages per round: {count}, rounds: {rounds}, concurrency: {CONCURRENCY}")
    for label, (deliver, bare) in (
        ("100 ms (a provider's typical answer)", realistic),
        ("0 ms (loopback, the strict case)", instant),
    ):
        print(
            f"sink latency {label}: deliver {deliver:.0f} msg/s, bare {bare:.0f} msg/s, "
            f"ratio {deliver / bare:.2f}"
        )
    print(f"ratio={instant[0] / instant[1]:.2f}")


def sample_message(store: Store, customer_id: str) -> OutgoingMessage:
    """The message the deliver activity renders for one customer, for the bare loop's form."""
    req = request(customer_id)
    customer = store.get_customer(customer_id) or {}
    context = build_context(customer, req.context.event, req.context.now)
    rendered = Templates(REPO / "templates").render(req.template, "sms", "en", context)
    return OutgoingMessage(
        delivery_key=req.delivery_key,
        channel="sms",
        recipient="+33612345678",
        customer_id=customer_id,
        scenario_id=req.scenario_id,
        step_id=req.step_id,
        subject="",
        text=rendered.text,
        html=None,
        locale="",
        template_file=rendered.template_file,
        journey_time=req.context.now,
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [500, 3][len(args) :])))
