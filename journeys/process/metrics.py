"""Prometheus metrics of the API and the worker (the Temporal SDK's own metrics are
exported by its runtime: ``JOURNEYS_TEMPORAL_METRICS_ADDRESS``).

Served at ``/metrics`` on the API; a worker running alone serves them on
``JOURNEYS_METRICS_PORT`` when it is set. Names follow Prometheus conventions (``_total``
counters, ``_seconds`` histograms).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter(
    "journeys_events_accepted",
    "Customer events stored by the API (a retried id counts as duplicate)",
    ["endpoint", "duplicate"],
)
ROUTING_LAG = Histogram(
    "journeys_routing_lag_seconds",
    "From an event being stored to it being routed to its journeys",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)
EVENTS_PENDING = Gauge("journeys_events_pending", "Events stored and not routed yet")
EVENTS_FAILED = Gauge(
    "journeys_events_failed", "Events Temporal refused for good, set aside (journeys events failed)"
)
DELIVERIES = Counter(
    "journeys_deliveries",
    "Deliver activity decisions per channel: sent, suppressed, deferred, failed",
    ["channel", "outcome"],
)
