"""Connecting to Temporal the same way everywhere: CLI, worker, router, tests, benchmarks."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from journeys.process.settings import Settings

log = logging.getLogger(__name__)

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SCENARIO_ID = SearchAttributeKey.for_keyword("ScenarioId")
SEARCH_ATTRIBUTES = (CUSTOMER_ID, SCENARIO_ID)


async def connect(settings: Settings, address: str | None = None) -> Client:
    return await Client.connect(
        address or settings.temporal_address or f"127.0.0.1:{settings.embedded_port}",
        namespace=settings.temporal_namespace,
        api_key=api_key.get_secret_value() if (api_key := settings.temporal_api_key) else None,
        tls=settings.temporal_tls,
        data_converter=pydantic_data_converter,
        runtime=runtime(settings.temporal_metrics_address),
    )


_runtimes: dict[str, Runtime] = {}


def runtime(metrics_address: str | None) -> Runtime | None:
    """The SDK runtime exporting Prometheus metrics on ``metrics_address`` (one per process
    and address: a runtime owns its threads and its HTTP listener); None: the default."""
    if not metrics_address:
        return None
    if metrics_address not in _runtimes:
        metrics = PrometheusConfig(bind_address=metrics_address)
        _runtimes[metrics_address] = Runtime(telemetry=TelemetryConfig(metrics=metrics))
    return _runtimes[metrics_address]


async def ensure_search_attributes(client: Client) -> None:
    """Registers CustomerId / ScenarioId on a cluster that lacks them (idempotent)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        log.info("registering search attributes %s", ", ".join(missing))
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        except RPCError as err:  # e.g. Temporal Cloud, where namespaces are managed outside
            raise RuntimeError(
                f"the namespace {client.namespace} lacks the Keyword search attributes "
                f"{', '.join(missing)} and they could not be added ({err.message}); "
                "add them with your cluster's tools (tcld / temporal operator)"
            ) from err


class TemporalUnavailable(RuntimeError):
    """No Temporal server answers where the settings point: the message says what to do."""


async def client_for(settings: Settings) -> Client:
    """A client for commands that talk to a server someone else runs (``journeys up``)."""
    address = settings.temporal_address or f"127.0.0.1:{settings.embedded_port}"
    try:
        return await connect(settings, address)
    except (RPCError, RuntimeError) as err:
        raise TemporalUnavailable(
            f"no Temporal server answers at {address}: start one with 'journeys up' "
            f"or set TEMPORAL_ADDRESS ({err})"
        ) from err
