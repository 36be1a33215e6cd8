"""Prometheus metrics: the API's and the worker's at /metrics, the Temporal SDK's from its
runtime when JOURNEYS_TEMPORAL_METRICS_ADDRESS is set."""

from __future__ import annotations

import socket

import httpx
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver, eventually
from journeys.process.settings import Settings
from journeys.temporal.connect import connect
from tests.props import CART_PROPS


async def test_api_metrics_count_events_routing_and_deliveries(
    api: httpx.AsyncClient, journeys: JourneyDriver
) -> None:
    customer = journeys.customer("metrics")
    body = {
        "customer_id": customer,
        "name": "cart.updated",
        "properties": {"cart_total": 9, **CART_PROPS},
    }
    assert (await api.post("/v1/events", json=body)).status_code == 202
    await journeys.idle("abandoned-cart", customer)
    await journeys.advance("abandoned-cart", customer, "1h")  # the reminder goes out

    async def scraped() -> None:
        text = (await api.get("/metrics")).text
        assert 'journeys_events_accepted_total{duplicate="false",endpoint="single"}' in text
        assert "journeys_routing_lag_seconds_count" in text
        assert "journeys_events_pending" in text
        assert 'journeys_deliveries_total{channel="email",outcome="sent"}' in text

    await eventually(scraped)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_temporal_sdk_exports_its_metrics(temporal: WorkflowEnvironment) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(
        temporal_address=temporal.client.service_client.config.target_host,
        temporal_metrics_address=address,
    )
    client = await connect(settings)
    await client.count_workflows()

    async def exported() -> None:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://{address}/metrics")).text
        assert "temporal_request" in text

    await eventually(exported)


def test_json_logs_are_one_object_per_line() -> None:
    import json
    import logging

    from journeys.process.logs import JsonFormatter

    record = logging.LogRecord(
        "journeys.temporal.relay", logging.WARNING, __file__, 1, "routing %s", ("x",), None
    )
    line = JsonFormatter().format(record)
    assert json.loads(line) | {"time": ""} == {
        "time": "",
        "level": "warning",
        "logger": "journeys.temporal.relay",
        "message": "routing x",
    }
