"""Messages/s through the deliver activity vs a bare httpx POST loop, to the same local sink.

The deliver side does everything a real SMS send does: ledger reads and the reservation
under the frequency cap, the fresh customer read, consent, rendering the Jinja template,
the Twilio adapter's form POST (to a local Twilio-shaped sink), marking the ledger sent.
The bare side POSTs the same form with the same pooled client. Quiet hours are off so
the figures do not depend on the time of day. Rounds alternate to share the noise.

It runs twice, 20 messages in flight:

* the sink answers after 100 ms, as a provider does (Twilio's and SendGrid's APIs answer
  in 100-500 ms): how much of the provider-bound rate governance keeps. This is the
  headline ``ratio=``, the figure the channels issue sets at 0.8;
* the sink answers at once: the CPU each side spends per message, since nothing else
  limits either. The deliver activity's two durable ledger writes, three reads and a
  render cost more than a loopback POST does, so this ratio stays far below 1; it says
  how many messages per second one worker process can govern (add workers beyond that).

    python bench/delivery.py            # 500 messages per round, 3 rounds
    python bench/delivery.py 2000 3
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from temporalio.testing import ActivityEnvironment  # noqa: E402

from activities.channels.base import OutgoingMessage  # noqa: E402
from activities.channels.http import build_http_client  # noqa: E402
from activities.channels.twilio import TwilioAdapter, twilio_form  # noqa: E402
from activities.deliver import DeliveryActivities  # noqa: E402
from journeys.delivery.frequency_cap import FrequencyCap  # noqa: E402
from journeys.delivery.governance import Governance  # noqa: E402
from journeys.delivery.quiet_hours import QuietHours  # noqa: E402
from journeys.model.contracts import DeliverRequest, JourneyContext  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.process.twilio_settings import TwilioSettings  # noqa: E402
from journeys.rendering.context import build_context  # noqa: E402
from journeys.rendering.templating import Templates  # noqa: E402
from journeys.store import Store  # noqa: E402
from tests.http_sink import HttpSink, Reply  # noqa: E402

CONCURRENCY = 20
ACCOUNT = "AC00000000000000000000000000000000"
PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CART = {"cart_total": 129.9, "currency": "EUR", "item_count": 2, "cart_url": "https://x"}


@dataclass
class Side:
    """Best round's messages/s, and that round's CPU time per message (all threads)."""

    rate: float = 0.0
    cpu_ms: float = 0.0

    def add(self, rate: float, cpu_ms: float) -> None:
        if rate > self.rate:
            self.rate, self.cpu_ms = rate, cpu_ms


async def bounded(calls: list[Callable[[], Awaitable[object]]]) -> tuple[float, float]:
    """Runs the calls CONCURRENCY at a time; returns calls per second and CPU ms per call."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(call) for call in calls))
    cpu_ms = (time.process_time() - cpu) * 1000 / len(calls)
    return len(calls) / (time.perf_counter() - started), cpu_ms


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


async def measure(count: int, rounds: int, latency: float) -> tuple[Side, Side]:
    """The deliver side and the bare side, best rounds, for one sink latency."""
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
        auth, url = (ACCOUNT, "token"), sink.url + PATH
        deliver, bare = Side(), Side()
        try:
            for number in range(rounds):
                customers = [f"r{number}-{i}" for i in range(count)]  # fresh: under the cap
                for customer in customers:
                    store.customers.upsert(
                        customer,
                        phone="+33612345678",
                        consent={"sms": True},
                        attributes={"first_name": "Ana"},
                    )
                form = twilio_form(sample_message(store, customers[0]), settings)
                deliver_rate, deliver_cpu = await bounded(
                    [lambda c=c: environment.run(delivery.deliver, request(c)) for c in customers]
                )
                bare_rate, bare_cpu = await bounded(
                    [lambda f=form: client.post(url, data=f, auth=auth) for _ in customers]
                )
                deliver.add(deliver_rate, deliver_cpu)
                bare.add(bare_rate, bare_cpu)
                print(
                    f"sink latency {latency * 1000:.0f} ms, round {number + 1}: "
                    f"deliver {deliver_rate:.0f} msg/s ({deliver_cpu:.1f} ms CPU/msg), "
                    f"bare httpx {bare_rate:.0f} msg/s ({bare_cpu:.1f} ms CPU/msg)",
                    flush=True,
                )
        finally:
            await client.aclose()
    return deliver, bare


async def main(count: int, rounds: int) -> None:
    provider = await measure(count, rounds, latency=0.1)
    instant = await measure(count, rounds, latency=0.0)
    print(f"messages per round: {count}, rounds: {rounds}, in flight: {CONCURRENCY}")
    for label, (deliver, bare) in (
        ("100 ms (as a provider answers)", provider),
        ("0 ms (CPU-bound)", instant),
    ):
        print(
            f"sink latency {label}: deliver {deliver.rate:.0f} msg/s, "
            f"bare {bare.rate:.0f} msg/s, ratio {deliver.rate / bare.rate:.2f}; "
            f"CPU per message: deliver {deliver.cpu_ms:.1f} ms, bare {bare.cpu_ms:.1f} ms"
        )
    print(f"ratio={provider[0].rate / provider[1].rate:.2f}")


def sample_message(store: Store, customer_id: str) -> OutgoingMessage:
    """The message the deliver activity renders for one customer, for the bare loop's form."""
    req = request(customer_id)
    customer = store.customers.get(customer_id) or {}
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
