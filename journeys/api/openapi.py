"""The OpenAPI document: FastAPI's, completed where the routes cannot say it themselves.

The webhooks and the unsubscribe pages read their bodies by hand (a signature covers the
raw bytes), so FastAPI knows neither their bodies nor their refusals: they are added
here, beside the ``JsonValue`` schema that event properties and profile attributes use
(JSON Schema can state "no NUL in any text, at any depth" only as a recursive schema).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from journeys.api.fields import JSON_TEXT_PATTERN
from journeys.api.provider_events import SENDGRID_PATH, TWILIO_PATH
from journeys.api.responses import html, json_detail, text

_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value: finite numbers, no NUL character in any text or key",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", "pattern": JSON_TEXT_PATTERN},
        {"type": "array", "items": _REF},
        {
            "type": "object",
            "propertyNames": {"pattern": JSON_TEXT_PATTERN},
            "additionalProperties": _REF,
        },
    ],
}

_TOO_LARGE = {"413": json_detail("The body is over the limit; nothing was read or written")}
_BAD_TOKEN = {
    "400": text("The link is not ours (tampered, cut); nothing changed"),
    "410": html(
        "A genuine link past its lifetime (JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS): a page saying "
        "how to unsubscribe otherwise; nothing changed"
    ),
    "503": text("Unsubscribe links cannot be checked (server configuration)"),
}
_TOKEN = {
    "token": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9_.-]+$",
        "description": "The signed token of the link (URL-safe base64 parts and dots)",
    }
}
# (path, method) -> what to add to that operation.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (TWILIO_PATH, "post"): {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            },
        },
        "responses": {
            "403": text("Not signed by Twilio (X-Twilio-Signature), or not configured"),
            **_TOO_LARGE,
        },
    },
    (SENDGRID_PATH, "post"): {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "description": "SendGrid's events; those not about delivery are ignored",
                    }
                }
            },
        },
        "responses": {
            "400": text("Not a JSON array of events"),
            "403": text("Not signed by SendGrid, or not configured"),
            **_TOO_LARGE,
        },
    },
    ("/u/{token}", "get"): {"parameters": _TOKEN, "responses": _BAD_TOKEN},
    ("/u/{token}", "post"): {"parameters": _TOKEN, "responses": {**_BAD_TOKEN, **_TOO_LARGE}},
}


def install(app: FastAPI) -> None:
    """Serves the completed document at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["JsonValue"] = JSON_VALUE
            for (path, method), extra in OPERATIONS.items():
                operation = schema["paths"][path][method]
                if "requestBody" in extra:
                    operation.setdefault("requestBody", extra["requestBody"])
                for parameter in operation.get("parameters", []):
                    if parameter["name"] in extra.get("parameters", {}):
                        parameter["schema"] = extra["parameters"][parameter["name"]]
                for status, response in extra.get("responses", {}).items():
                    operation["responses"].setdefault(status, {}).update(response)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
