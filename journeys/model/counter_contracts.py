"""The badge activity's contract: what an update step's ``badge`` asks the worker to do.

Kept apart from ``journeys.model.contracts`` (one module per lever); pure data, imported by
workflow code inside the sandbox.
"""

from __future__ import annotations

from pydantic import BaseModel

from journeys.model.contracts import JourneyContext

AWARD_BADGE = "award_badge"


class BadgeRequest(BaseModel):
    """Awards ``badge`` to the journey's customer, once per customer.

    ``key`` is the step's key (``journeys.model.journey_keys``): the badge row's source
    reference, so a retried attempt finds its own award."""

    badge: str
    context: JourneyContext
    key: str
