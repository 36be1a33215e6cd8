"""An event's ``counters`` travel with it when set and leave its JSON untouched when empty."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter

from journeys.model.events import Event, encoded_size


def test_an_event_without_counters_weighs_what_it_always_did() -> None:
    event = Event(id="e1", name="cart.updated", customer_id="c1", properties={"x": 1})
    [payload] = pydantic_data_converter.payload_converter.to_payloads([event])
    assert b"counters" not in payload.data
    assert encoded_size(event) == len(payload.data)


def test_counters_survive_the_trip_through_temporal() -> None:
    event = Event(id="e1", name="store.visit", customer_id="c1", counters={"visits": 10})
    converter = pydantic_data_converter.payload_converter
    [decoded] = converter.from_payloads(converter.to_payloads([event]), [Event])
    assert decoded.counters == {"visits": 10}
