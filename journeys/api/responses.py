"""The answers the routers share, documented once for the OpenAPI schema.

Every status an endpoint can give is listed on it (schemathesis checks that the API says
nothing it does not document): 401 on every ``/v1`` call without a valid key, 413 past the
body limit (``journeys.api.body_limit``), 400 for a body that is not readable JSON, 404 for
an unknown customer or scenario, 503 when Temporal cannot be reached.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Detail(BaseModel):
    """One sentence saying what is wrong."""

    detail: str


Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED: Responses = {
    401: {
        "model": Detail,
        "description": "No valid API key: send `Authorization: Bearer <key>`",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    }
}
TOO_LARGE: Responses = {
    413: {
        "model": Detail,
        "description": "The body is over the limit (JOURNEYS_API_MAX_BODY_BYTES, or "
        "JOURNEYS_API_MAX_BATCH_BODY_BYTES for batches); nothing was read or written",
    }
}
BAD_BODY: Responses = {
    400: {"model": Detail, "description": "The body cannot be read as JSON (e.g. not UTF-8)"}
}
BODY_ERRORS: Responses = {**BAD_BODY, **TOO_LARGE}
NOT_FOUND: Responses = {404: {"model": Detail, "description": "Not found"}}
UNAVAILABLE: Responses = {503: {"model": Detail, "description": "Temporal is not reachable"}}


def text(description: str) -> dict[str, Any]:
    """A plain-text answer (the webhooks' and unsubscribe pages' refusals)."""
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def html(description: str) -> dict[str, Any]:
    """An HTML page (the unsubscribe pages' answers a customer reads)."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def json_detail(description: str) -> dict[str, Any]:
    """A ``Detail`` answer, for routes documented after the fact (``journeys.api.openapi``)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}},
    }
