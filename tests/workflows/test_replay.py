"""Replays recorded journey histories against today's interpreter.

A failure here means a journey already in flight would break (non-determinism) on deploy:
guard the change with ``workflow.patched`` instead of re-recording.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from journeys.app.driver import JourneyDriver
from workflows.journey import JourneyWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def _replayer() -> Replayer:
    return Replayer(workflows=[JourneyWorkflow], data_converter=pydantic_data_converter)


async def test_committed_histories_replay() -> None:
    assert len(HISTORIES) >= 4, "recorded histories are missing: python -m tests.histories.record"

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORIES:
            yield WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))

    results = await _replayer().replay_workflows(histories(), raise_on_replay_failure=False)
    assert not results.replay_failures, {run: str(e) for run, e in results.replay_failures.items()}


async def test_a_fresh_journey_replays(journeys: JourneyDriver) -> None:
    customer = journeys.customer(phone="+33600000009", consent={"email": True, "sms": True})
    await journeys.send(
        customer,
        "cart.updated",
        cart_total=180,
        currency="EUR",
        item_count=2,
        cart_url="https://shop.example/cart",
    )
    await journeys.finish("abandoned-cart", customer)
    history = await journeys.handle("abandoned-cart", customer).fetch_history()
    await _replayer().replay_workflow(history)


async def test_a_journey_that_records_facts_replays(journeys: JourneyDriver) -> None:
    """Entered, waiting, goal and exit facts (the patch marker first, then local activities)
    replay without a non-determinism error, as a worker restarted mid-journey would."""
    customer = journeys.customer()
    await journeys.send(
        customer,
        "cart.updated",
        cart_total=40,
        currency="EUR",
        item_count=1,
        cart_url="https://shop.example/cart",
    )
    await journeys.idle("abandoned-cart", customer)
    await journeys.advance("abandoned-cart", customer, "30m")
    await journeys.send(customer, "order.completed", order_id="A-2")
    state = await journeys.finish("abandoned-cart", customer)
    assert state.status == "exited" and state.goal_reached_at is not None
    history = await journeys.handle("abandoned-cart", customer).fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert markers[0].marker_recorded_event_attributes.marker_name == "core_patch"
    await _replayer().replay_workflow(history)


def test_step_error_histories_record_the_failed_step_and_complete() -> None:
    """The histories of the step-errors behaviour carry its patch marker and end completed
    (before the patch, the same failures failed the workflow)."""
    for name in ("cart_entry_if_fails", "expiry_by_hand_without_dates"):
        path = Path(__file__).parents[1] / "histories" / f"{name}.json"
        history = WorkflowHistory.from_json(name, json.loads(path.read_text()))
        assert any(b"step-errors" in data for data in _patches(history)), name
        assert history.events[-1].HasField("workflow_execution_completed_event_attributes")


def test_the_structured_keys_history_sends_with_a_structured_key() -> None:
    """A journey of the structured-keys behaviour: the patch marker, then a deliver and a
    points award keyed ``journey:<scenario>:<customer>:<entry>:<step>``."""
    name = "birthday_structured_keys"
    path = Path(__file__).parents[1] / "histories" / f"{name}.json"
    history = WorkflowHistory.from_json(name, json.loads(path.read_text()))
    assert any(b"structured-keys" in data for data in _patches(history))
    [deliver] = [
        json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert deliver["delivery_key"].startswith("journey:birthday:")
    assert deliver["delivery_key"].endswith(":greeting")


def test_the_batched_facts_history_writes_facts_together_and_ends_with_the_last_send() -> None:
    """A journey of the batched-facts behaviour: that patch alone (it implies the older
    ones), facts written in ``record_facts`` batches, and the entry's end carried by the
    last send instead of a local activity of its own."""
    name = "cart_batched_facts"
    path = Path(__file__).parents[1] / "histories" / f"{name}.json"
    history = WorkflowHistory.from_json(name, json.loads(path.read_text()))
    [patch] = _patches(history)
    assert json.loads(patch)["id"] == "batched-facts"
    local = [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert [a["activity_type"] for a in local] == [
        "evaluate_condition",  # entry.if
        "record_facts",  # entered, waiting at the first wait
        "record_facts",  # waiting for the order
        "evaluate_condition",  # big cart with SMS consent
        "record_facts",  # waiting 2 days
    ]
    sends = [
        json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert [(s["facts"], (s.get("end") or {}).get("kind")) for s in sends] == [
        ([], None),
        ([], None),
        ([], "completed"),
    ]


def _patches(history: WorkflowHistory) -> list[bytes]:
    """The patch markers' data (``{"id": "<patch>", ...}``) in the history, in order."""
    return [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def test_the_recorder_imports() -> None:
    """``python -m tests.histories.record`` runs by hand and rarely (ruff skips the folder):
    a module it imports that moves must fail here, not on the day a history is needed."""
    recorder = importlib.import_module("tests.histories.record")
    assert callable(recorder.record)
