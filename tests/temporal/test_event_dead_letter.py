"""An event Temporal refuses (over its payload size limit) does not block its customer:
the relay sets it aside with Temporal's reason, routes the customer's next events in
order, and ``journeys events failed`` / ``pending`` show it; ``retry`` puts it back.
On the session's real Temporal dev server (blob limit 2 MiB, gRPC message limit 4 MiB)."""

from __future__ import annotations

import logging
import socket
import uuid
from pathlib import Path

import pydantic
import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RetryConfig, RPCError, RPCStatusCode
from typer.testing import CliRunner

from journeys.app.driver import JourneyDriver, NotYet, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.cli.main import app
from journeys.model.events import Event, encoded_size
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal import routing
from journeys.temporal.ingest import ingest
from journeys.temporal.relay import Relay, relaying, route_pending
from journeys.temporal.routing import EventRefused, Router, refusal
from tests.props import CART_PROPS

CART = "abandoned-cart"
OVER_BLOB_LIMIT = 2 * 1024 * 1024 + 1000  # the dev server's limit.blobSize.error is 2 MiB
OVER_GRPC_LIMIT = 5 * 1024 * 1024  # past the 4 MiB gRPC message limit


# Not registered on the session's server (it has CustomerId and ScenarioId): signal-with-start
# answers INVALID_ARGUMENT for every event, as on a namespace whose registration failed.
UNREGISTERED = SearchAttributeKey.for_keyword("JourneysNeverRegistered")


def cart(customer: str, event_id: str, padding: int = 0) -> Event:
    properties = {"cart_total": 80, **CART_PROPS}
    if padding:
        properties["blob"] = "x" * padding
    return Event(id=event_id, name="cart.updated", customer_id=customer, properties=properties)


async def test_a_refused_event_is_set_aside_and_the_next_ones_are_routed_in_order(
    journeys: JourneyDriver, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = journeys.customer("dead")
    tag = uuid.uuid4().hex[:6]
    first = cart(customer, f"{tag}-1")
    too_big = cart(customer, f"{tag}-2", OVER_BLOB_LIMIT)
    far_too_big = cart(customer, f"{tag}-3", OVER_GRPC_LIMIT)
    order = Event(
        id=f"{tag}-4", name="order.completed", customer_id=customer, properties={"order_id": "o"}
    )
    # In the log by a way that does not check sizes (a derived event, an older row).
    journeys.store.events.record_many([first, too_big, far_too_big, order])

    while await route_pending(journeys.store, journeys.router, customer_id=customer):
        pass

    assert journeys.store.events.pending(customer) == []
    failures = {row.id: row.failure for row in journeys.store.events.failed(1000)}
    assert "Blob data size exceeds limit" in (failures[too_big.id] or "")
    assert "larger than max" in (failures[far_too_big.id] or "")
    assert first.id not in failures and order.id not in failures
    state = await journeys.finish(CART, customer)
    # The trigger, then the exit: the order held around the two set aside.
    assert [e.id for e in state.events] == [first.id, order.id]
    assert state.status == "exited"

    monkeypatch.setenv("JOURNEYS_DATABASE_URL", settings.store_url)
    runner = CliRunner()
    listed = runner.invoke(app, ["events", "failed", "--limit", "1000"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line for line in listed.output.splitlines() if line.strip()}
    assert lines[too_big.id].startswith(f"{too_big.id}  {customer}  cart.updated  failed ")
    assert lines[too_big.id].endswith("Temporal refused it: Blob data size exceeds limit.")
    assert "larger than max" in lines[far_too_big.id]
    assert first.id not in lines and order.id not in lines
    pending = runner.invoke(app, ["events", "pending"])
    assert "event(s) set aside, not retried" in pending.output
    assert "see 'journeys events failed'" in pending.output

    retried = runner.invoke(app, ["events", "retry", too_big.id])
    assert retried.exit_code == 0, retried.output
    assert [e.id for e in journeys.store.events.pending(customer)] == [too_big.id]
    assert runner.invoke(app, ["events", "retry", "no-such-event"]).exit_code == 1
    await route_pending(journeys.store, journeys.router, customer_id=customer)
    assert too_big.id in {row.id for row in journeys.store.events.failed(1000)}  # again


async def test_send_event_refuses_an_event_over_the_event_limit_before_storing_it(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("dead")
    event = cart(customer, f"{uuid.uuid4().hex[:6]}-big", 70_000)
    with pytest.raises(EventRefused) as refused:
        await ingest(journeys.store, journeys.router, event, max_bytes=65536)
    # The API's sentence (tests/api/test_api_bad_input.py), with the event's id.
    assert str(refused.value) == (
        f"event {event.id}: the event is {encoded_size(event)} bytes as JSON, over the limit "
        "of 65536 bytes (JOURNEYS_MAX_EVENT_BYTES); nothing was stored"
    )
    assert not journeys.store.events.recorded(event.id)


async def test_an_event_temporal_refuses_on_ingest_is_stored_and_set_aside(
    journeys: JourneyDriver,
) -> None:
    customer = journeys.customer("dead")
    event = cart(customer, f"{uuid.uuid4().hex[:6]}-big", OVER_BLOB_LIMIT)
    with pytest.raises(EventRefused, match="Blob data size exceeds limit"):
        await ingest(journeys.store, journeys.router, event)
    assert event.id in {row.id for row in journeys.store.events.failed(1000)}
    assert journeys.store.events.pending(customer) == []


async def test_an_unreachable_server_is_not_a_refusal_the_events_wait_for_the_next_pass(
    journeys: JourneyDriver, registry: ScenarioRegistry, settings: Settings
) -> None:
    """Temporal down is retried, never set aside; the claim is given back at once, so the
    next pass (this router's or another's) does not wait for the lease to lapse."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    client = await Client.connect(
        nowhere,
        lazy=True,
        retry_config=RetryConfig(max_retries=0),
        data_converter=pydantic_data_converter,
    )
    router = Router(client, registry, settings.task_queue)
    customer = journeys.customer("dead")
    journeys.store.events.record_many(
        [cart(customer, f"{uuid.uuid4().hex[:6]}-{n}") for n in (1, 2)]
    )

    with pytest.raises(RuntimeError, match="connect") as raised:  # the SDK's own error
        await route_pending(journeys.store, router, customer_id=customer)
    assert refusal(raised.value) is None

    assert customer not in {row.customer_id for row in journeys.store.events.failed(1000)}
    assert len(journeys.store.events.claim(customer)) == 2  # given back, in order, at once


def order(customer: str, event_id: str) -> Event:
    return Event(
        id=event_id, name="order.completed", customer_id=customer, properties={"order_id": "o"}
    )


async def test_an_id_past_temporals_length_limit_is_set_aside(journeys: JourneyDriver) -> None:
    customer = "k" * 1000  # the journey's workflow id would be over 1000 characters
    event = cart(customer, f"{uuid.uuid4().hex[:6]}-long")
    journeys.store.events.record_many([event])

    await route_pending(journeys.store, journeys.router, customer_id=customer)

    failures = {row.id: row.failure for row in journeys.store.events.failed(1000)}
    assert "WorkflowId exceeds maximum allowed length" in (failures[event.id] or "")


async def test_a_refusal_not_about_the_event_keeps_it_pending_and_the_relay_retries_it(
    journeys: JourneyDriver,
    registry: ScenarioRegistry,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The API's relay running before anyone registered the search attributes: Temporal
    answers INVALID_ARGUMENT to every signal-with-start. Nothing is set aside; the relay
    warns with Temporal's reason and retries, and once they exist the events are routed,
    in order. Its own store, so that it routes nothing of the other tests."""
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    customer = journeys.customer("unregistered")
    tag = uuid.uuid4().hex[:6]
    events = [cart(customer, f"{tag}-1"), order(customer, f"{tag}-2")]
    store.events.record_many(events)
    monkeypatch.setattr(routing, "CUSTOMER_ID", UNREGISTERED)

    async def router() -> Router:
        return Router(journeys.router.client, registry, settings.task_queue)

    relay = Relay(store, router, interval=0.05, max_pause=0.2)
    caplog.set_level(logging.WARNING, logger="journeys.temporal.relay")
    async with relaying(relay):

        async def failed_twice() -> None:
            if relay.failures < 2:
                raise NotYet(f"{relay.failures} failed passes so far")

        await eventually(failed_twice)
        assert store.events.failed_count() == 0
        assert [e.id for e in store.events.pending(customer)] == [e.id for e in events]
        warning = next(r for r in caplog.records if r.name == "journeys.temporal.relay")
        assert warning.levelno == logging.WARNING
        assert "no mapping defined for search attribute JourneysNeverRegistered" in (
            warning.getMessage()
        )

        monkeypatch.undo()  # registered now

        async def routed() -> None:
            if store.events.pending_count():
                raise NotYet("still pending")

        await eventually(routed)
    assert store.events.failed_count() == 0
    state = await journeys.finish(CART, customer)
    assert [e.id for e in state.events] == [e.id for e in events]  # in order
    assert state.status == "exited"
    store.engine.dispose()


async def test_send_event_keeps_an_event_temporal_refuses_for_another_reason_pending(
    journeys: JourneyDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = journeys.customer("unregistered")
    event = cart(customer, f"{uuid.uuid4().hex[:6]}-1")
    monkeypatch.setattr(routing, "CUSTOMER_ID", UNREGISTERED)

    with pytest.raises(RPCError) as raised:  # the caller's error to retry, not EventRefused
        await ingest(journeys.store, journeys.router, event)

    assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert refusal(raised.value) is None
    assert [e.id for e in journeys.store.events.pending(customer)] == [event.id]
    assert event.id not in {row.id for row in journeys.store.events.failed(1000)}


def test_a_bug_of_our_own_is_no_refusal() -> None:
    """A ValidationError or TypeError raised while routing is ours to fix: the event waits."""
    with pytest.raises(pydantic.ValidationError) as invalid:
        Event.model_validate({"id": "e1"})
    assert refusal(invalid.value) is None
    assert refusal(TypeError("Object of type set is not JSON serializable")) is None
    assert refusal(ValueError("Circular reference detected")) is None
    rate_limited = RPCError("namespace rate limit exceeded", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
    assert refusal(rate_limited) is None
    sizes = RPCError("Blob data size exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b"")
    assert refusal(sizes) == "Temporal refused it: Blob data size exceeds limit."
