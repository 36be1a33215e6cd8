"""A deliver request, its customer and its templates, as the deliver activity's tests use them.

Shared by the tests of delivery itself, of the frequency cap, and of provider webhooks, which
send real messages through the activity before the provider reports on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.deliver import DeliveryActivities
from journeys.model.contracts import DeliverRequest, DeliverResult, JourneyContext
from journeys.model.events import Event
from journeys.store import Store

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TEMPLATES = {
    "promo/offer.email.j2": (
        "{% block subject %}Hello {{ customer.first_name }}{% endblock %}"
        "{% block html %}<p>{{ event.item }} for {{ customer.first_name }}</p>{% endblock %}"
        "{% block text %}{{ event.item }} for {{ customer.first_name }}{% endblock %}"
    ),
    "promo/offer.email.fr.j2": (
        "{% block subject %}Bonjour {{ customer.first_name }}{% endblock %}"
        "{% block html %}<p>{{ event.item }} pour vous</p>{% endblock %}"
        "{% block text %}{{ event.item }} pour vous{% endblock %}"
    ),
    "promo/offer.sms.j2": "{% block text %}SMS: {{ event.item }}{% endblock %}",
    "promo/offer.push.j2": (
        "{% block title %}Push{% endblock %}{% block text %}{{ event.item }}{% endblock %}"
    ),
    "broken/oops.email.j2": (
        "{% block subject %}{{ customer.nickname }}{% endblock %}"
        "{% block html %}x{% endblock %}{% block text %}x{% endblock %}"
    ),
}


def customer(store: Store, customer_id: str = "c1", **profile: Any) -> str:
    profile.setdefault("email", "ana@example.com")
    profile.setdefault("consent", {"email": True})
    store.customers.upsert(customer_id, attributes={"first_name": "Ana"}, **profile)
    return customer_id


def request(customer_id: str, *channels: str, **fields: Any) -> DeliverRequest:
    item = {"item": "Tea & cake"}
    event = Event(id="ev1", name="promo.started", customer_id=customer_id, properties=item)
    values: dict[str, Any] = {
        "delivery_key": f"journey/promo/{customer_id}/entry-1/offer",
        "workflow_id": f"journey/promo/{customer_id}",
        "run_id": "run-1",
        "scenario_id": "promo",
        "step_id": "offer",
        "channels": list(channels or ["email"]),
        "template": "promo/offer",
        "purpose": "marketing",
        "context": JourneyContext(customer_id=customer_id, event=event, now=NOW),
    }
    return DeliverRequest.model_validate({**values, **fields})


async def deliver(delivery: DeliveryActivities, req: DeliverRequest) -> DeliverResult:
    return await ActivityEnvironment().run(delivery.deliver, req)
