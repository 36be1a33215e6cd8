"""A worker built by ``build_worker`` leaves nothing open when it stops: the HTTP adapters'
shared client (an aiohttp session underneath) is closed, so no "Unclosed client session"."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.channels.base import OutgoingMessage
from activities.channels.twilio import TwilioAdapter
from activities.deliver import DeliveryActivities
from journeys.delivery.governance import Governance
from journeys.process.settings import Settings
from journeys.store import Store
from tests.http_sink import HttpSink, Reply
from worker import build_worker

MESSAGES = "/2010-04-01/Accounts/AC123/Messages.json"


def sms_adapter(worker: Any) -> TwilioAdapter:
    """The SMS adapter the worker's deliver activity uses (built from the environment)."""
    [delivery] = {
        getattr(fn, "__self__", None)
        for fn in worker.config()["activities"]
        if isinstance(getattr(fn, "__self__", None), DeliveryActivities)
    }
    adapter = delivery.adapters["sms"]
    assert isinstance(adapter, TwilioAdapter)
    return adapter


async def test_the_shared_http_session_is_closed_when_the_worker_stops(
    temporal: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unclosed: list[str] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unclosed.append(str(context.get("message"))))
    try:
        with HttpSink() as sink:
            sink.reply(MESSAGES, Reply(201, {"sid": "SM1", "status": "queued"}))
            for name, value in {
                "JOURNEYS_SMS_PROVIDER": "twilio",
                "JOURNEYS_EMAIL_PROVIDER": "outbox",
                "JOURNEYS_PUSH_PROVIDER": "outbox",
                "JOURNEYS_TWILIO_ACCOUNT_SID": "AC123",
                "JOURNEYS_TWILIO_AUTH_TOKEN": "token",
                "JOURNEYS_TWILIO_FROM_NUMBER": "+15005550006",
                "JOURNEYS_TWILIO_BASE_URL": sink.url,
            }.items():
                monkeypatch.setenv(name, value)
            queue = settings.model_copy(update={"task_queue": "journeys-shutdown"})
            worker = build_worker(temporal.client, queue, store=store, governance=Governance.off())
            adapter = sms_adapter(worker)
            async with worker:
                # A send opens the aiohttp session (it is created on the first request).
                assert await adapter.send(message()) == "SM1"
                session = adapter.client._transport.client  # type: ignore[attr-defined]
                assert session is not None and not session.closed
            assert adapter.client.is_closed
            assert session.closed
        del worker, adapter, session
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert not [text for text in unclosed if "Unclosed" in text], unclosed


def message() -> OutgoingMessage:
    return OutgoingMessage(
        delivery_key="shutdown/c1/1/sms",
        channel="sms",
        recipient="+33612345678",
        customer_id="c1",
        scenario_id="shutdown",
        step_id="sms",
        subject="",
        text="hello",
        html=None,
        locale="en",
        template_file="shutdown.sms.j2",
        journey_time=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
    )
