"""What templates and expressions see: ``customer``, ``event``, ``last_event``, ``now``.

Customer attributes are lifted to the top (``customer.first_name``) because that is how a
marketer thinks of them; the fixed profile fields win over an attribute of the same name.
Event properties likewise sit at the top of ``event`` (``event.cart_total``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeys.events import Event
from journeys.scenario import Scenario
from journeys.templating import SAMPLE_CUSTOMER, sample_now


def event_context(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {}
    context = dict(event.properties)
    context.setdefault("name", event.name)
    context.setdefault("id", event.id)
    if event.occurred_at is not None:
        context.setdefault("occurred_at", event.occurred_at)
    return context


def build_context(
    customer: dict[str, Any],
    event: Event | None,
    now: datetime,
    last_event: Event | None = None,
) -> dict[str, Any]:
    return {
        "customer": customer,
        "event": event_context(event),
        "last_event": event_context(last_event or event),
        "now": now,
    }


def sample_context(scenario: Scenario) -> dict[str, Any]:
    """The scenario's sample (or defaults) shaped like a real journey's context."""
    customer = {**SAMPLE_CUSTOMER, **scenario.sample.customer}
    event = Event(
        id="sample-event",
        name=scenario.trigger.event,
        customer_id=str(customer["id"]),
        properties=dict(scenario.sample.event),
    )
    return build_context(customer, event, sample_now())
