"""SMS repeated per worker SIGKILL, with a provider that has no idempotency key (Twilio).

A real worker process (``python worker.py``, the production wiring) sends one SMS per
journey through the Twilio adapter to a Twilio-shaped sink on loopback that answers after
0.2-1.5 s (bench/twilio_sink.py). Events arrive at a steady pace; the worker is SIGKILLed
mid-run, restarted at once, and the deliveries that were cut short are retried by Temporal
after the heartbeat timeout. At the end every journey's ledger row is ``sent``, and the
sink says how many numbers received their SMS more than once.

Twilio accepts a message when the request arrives, so every send in flight at the kill
is ambiguous: the provider has it, the ledger says ``reserved``, and nothing in the worker
can tell. Two sides, alternated in rounds on one embedded server:

* no status callbacks (``JOURNEYS_TWILIO_STATUS_CALLBACK`` unset): the retry sends again;
* status callbacks to the API (the sink posts Twilio's signed callback, as Twilio does
  whether or not its answer reached the worker): the callback names the delivery key, the
  API records it on the reserved row, and the retry marks the row sent instead of sending.

    python bench/crash_window.py            # 120 journeys per round, 2 kills, 3 rounds a side
    python bench/crash_window.py 200 3 2    # journeys per round, kills per round, rounds
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from sqlalchemy import func, select  # noqa: E402
from twilio_sink import TwilioSink  # noqa: E402

from journeys.api.app import create_app  # noqa: E402
from journeys.api.serve import serving  # noqa: E402
from journeys.authoring.registry import ScenarioRegistry  # noqa: E402
from journeys.model.events import Event  # noqa: E402
from journeys.process.settings import Settings  # noqa: E402
from journeys.process.twilio_settings import TwilioSettings  # noqa: E402
from journeys.store import Store  # noqa: E402
from journeys.store.tables import Delivery  # noqa: E402
from journeys.temporal.embedded import start_embedded  # noqa: E402
from journeys.temporal.routing import Router  # noqa: E402

RATE = 12.0  # journeys started per second
ACCOUNT = "AC" + "0" * 32
TOKEN = "bench-auth-token"
SCENARIO = """\
id: crash-sms
name: One SMS (crash window benchmark)
trigger: {event: cart.updated}
steps:
  - send: {id: nudge, channel: sms, template: abandoned_cart/nudge}
sample:
  event: {cart_total: 129.90, currency: EUR, item_count: 3, cart_url: "https://shop.example/cart"}
"""
CART = {"cart_total": 129.9, "currency": "EUR", "item_count": 3, "cart_url": "https://x"}


@dataclass
class Side:
    name: str
    callbacks: bool
    kills: int = 0
    in_flight: list[int] = field(default_factory=list)
    repeats: int = 0

    @property
    def per_kill(self) -> float:
        return self.repeats / self.kills if self.kills else 0.0


class WorkerProcess:
    """``python worker.py`` with its output in a file (read when something goes wrong)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "worker.py", cwd=REPO, env=self.env, stdout=out, stderr=out
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                await self.kill()


def worker_env(server: str, store_url: str, folder: Path, queue: str, sink: str, api: str | None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TEMPORAL_"))}
    env.update(
        TEMPORAL_ADDRESS=server,
        JOURNEYS_TASK_QUEUE=queue,
        JOURNEYS_DATABASE_URL=store_url,
        JOURNEYS_SCENARIOS_DIR=str(folder / "scenarios"),
        JOURNEYS_TEMPLATES_DIR=str(REPO / "templates"),
        JOURNEYS_EMAIL_PROVIDER="outbox",
        JOURNEYS_PUSH_PROVIDER="outbox",
        JOURNEYS_SMS_PROVIDER="twilio",
        JOURNEYS_TWILIO_ACCOUNT_SID=ACCOUNT,
        JOURNEYS_TWILIO_AUTH_TOKEN=TOKEN,
        JOURNEYS_TWILIO_FROM_NUMBER="+15550001111",
        JOURNEYS_TWILIO_BASE_URL=sink,
        JOURNEYS_FREQUENCY_CAP="",
        JOURNEYS_QUIET_HOURS_SMS="",
        JOURNEYS_QUIET_HOURS_PUSH="",
    )
    if api:
        env["JOURNEYS_TWILIO_STATUS_CALLBACK"] = f"{api}/webhooks/twilio/status"
    return env


def sent_count(store: Store, customers: list[str]) -> int:
    query = select(func.count()).where(
        Delivery.status == "sent",  # type: ignore[arg-type]
        Delivery.customer_id.in_(customers),  # type: ignore[union-attr]
    )
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


async def play_round(
    side: Side,
    label: str,
    count: int,
    kills: int,
    *,
    server: str,
    router: Router,
    store: Store,
    sink: TwilioSink,
    folder: Path,
    api: str,
    first_number: int,
) -> None:
    customers = [f"{label}-{i}" for i in range(count)]
    phones = [f"+336{first_number + i:08d}" for i in range(count)]
    numbers = set(phones)
    for customer, number in zip(customers, phones, strict=True):
        store.customers.upsert(
            customer, phone=number, consent={"sms": True}, attributes={"first_name": "Ana"}
        )
    env = worker_env(
        server, store.url, folder, f"q-{label}", sink.url, api if side.callbacks else None
    )
    worker = WorkerProcess(env, folder / f"worker-{label}.log")
    await worker.start()
    try:

        async def produce() -> None:
            for number, customer in enumerate(customers):
                event = Event(id=uuid.uuid4().hex, name="cart.updated", customer_id=customer,
                              properties=CART)  # fmt: skip
                await router.route(event)
                await asyncio.sleep(max(0.0, (number + 1) / RATE - (time.monotonic() - began)))

        began = time.monotonic()
        router.task_queue = env["JOURNEYS_TASK_QUEUE"]
        producing = asyncio.create_task(produce())
        for kill in range(1, kills + 1):
            while len(sink.received_for(numbers)) < kill * count // (kills + 1):
                await asyncio.sleep(0.01)
            side.in_flight.append(sink.in_flight(numbers))
            await worker.kill()
            side.kills += 1
            await worker.start()
        await producing
        deadline = time.monotonic() + 180
        while sent_count(store, customers) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: not every SMS was sent; see {worker.log}")
            await asyncio.sleep(0.5)
    finally:
        await worker.stop()
    repeats = sink.repeats(numbers)
    side.repeats += repeats
    print(
        f"{label} ({side.name}): {count} journeys, {kills} kills with "
        f"{', '.join(map(str, side.in_flight[-kills:]))} sends in flight, "
        f"{repeats} SMS repeated",
        flush=True,
    )


async def main(count: int, kills: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-crash-") as name, TwilioSink(TOKEN) as sink:
        folder = Path(name)
        (folder / "scenarios").mkdir()
        (folder / "scenarios" / "crash_sms.yaml").write_text(SCENARIO, encoding="utf-8")
        settings = Settings(
            data_dir=folder,
            scenarios_dir=folder / "scenarios",
            templates_dir=REPO / "templates",
            embedded_port=0,
        )
        store = Store(settings.store_url)
        store.create_schema()
        registry = ScenarioRegistry.load(settings.scenarios_dir, settings.templates_dir)
        twilio = TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN, from_number="+1555")
        app = create_app(settings, store, twilio=twilio, registry=registry)
        env = await start_embedded(settings, ui=False)
        sides = [Side("no status callbacks", False), Side("status callbacks", True)]
        try:
            async with serving(app, "127.0.0.1", 0) as api:
                server = env.client.service_client.config.target_host
                router = Router(env.client, registry, "unset")
                for number in range(rounds):
                    order = sides if number % 2 == 0 else sides[::-1]
                    for side in order:
                        label = f"r{number + 1}{'cb' if side.callbacks else 'no'}"
                        await play_round(
                            side, label, count, kills, server=server, router=router,
                            store=store, sink=sink, folder=folder, api=api.url,
                            first_number=(2 * number + side.callbacks) * count,
                        )  # fmt: skip
        finally:
            await env.shutdown()
        if sink.callbacks_failed:
            print(f"status callbacks that could not be posted: {sink.callbacks_failed}")
    before, after = sides
    print(f"journeys per round: {count}, kills per round: {kills}, rounds per side: {rounds}")
    print(f"provider latency 0.2-1.5 s, {RATE:.0f} journeys/s, heartbeat timeout 10 s")
    for side in sides:
        flights = sum(side.in_flight) / len(side.in_flight) if side.in_flight else 0.0
        print(
            f"{side.name}: {side.repeats} SMS repeated over {side.kills} kills, "
            f"{side.per_kill:.1f} per kill ({flights:.1f} sends in flight per kill)"
        )
    absorbed = 1 - after.per_kill / before.per_kill if before.per_kill else 1.0
    print(f"ratio={absorbed:.2f}  (share of repeated sends the status callbacks absorb)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    asyncio.run(main(*(args + [120, 2, 3][len(args) :])))
