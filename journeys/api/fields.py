"""The rules of the API's values, stated once: checked on input and shown in the OpenAPI.

Every rule here is one a client can read in the schema (a pattern, a length, a range) or
the sentence of a 422 naming the field, so a bad value is refused before anything is
written, never a 500 from the database or from Temporal afterwards:

* ids (customers, events) are 1-200 characters with no control characters (NUL among
  them): they become workflow ids, database keys and log lines;
* event names are letters, digits and ``. _ : -``;
* moments are RFC 3339 date-times with an offset, years 1970 to 2999 as written: a
  moment out of that range (``9999-12-31T23:00:00-14:00``) overflows once converted to UTC;
* JSON values (event properties, profile attributes) have finite numbers only (no NaN or
  Infinity), no NUL character and no unpaired surrogate in any text or key, and are
  nested at most ``MAX_DEPTH`` deep: PostgreSQL, the JSON encoders and Temporal's payload
  converter refuse those (``journeys.model.json_values``, shared with the CLI and the update
  steps).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

from journeys.model.json_values import json_problem

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
ID_MAX = 200
PATH_ID_PATTERN = r"^[^\x00-\x1f\x7f/]+$"  # a `/` would end the path segment
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
NAME_MAX = 100
MOMENT_PATTERN = (
    r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
JSON_TEXT_PATTERN = r"^[^\x00]*$"
_MOMENT = re.compile(MOMENT_PATTERN)


Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
EventName = Annotated[
    str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
]


def _moment_text(value: Any) -> Any:
    """Text only, in RFC 3339 shape: pydantic alone would also take a number of seconds
    (``0``, ``"0.5"``) or a naive time."""
    if not isinstance(value, str):
        raise ValueError("a moment is RFC 3339 text with an offset, e.g. 2026-11-23T10:00:00Z")
    if not _MOMENT.match(value):
        raise ValueError(
            f"{value!r} is not an RFC 3339 date-time with an offset and a year from 1970 "
            "to 2999 (e.g. 2026-11-23T10:00:00Z)"
        )
    return value


Moment = Annotated[
    datetime,
    BeforeValidator(_moment_text),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": MOMENT_PATTERN,
            "description": "RFC 3339 with an offset; a year from 1970 to 2999",
            "examples": ["2026-11-23T10:00:00Z"],
        }
    ),
]


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(value)
    if problem:
        where, why = problem
        raise ValueError(f"{where}: {why}" if where else why)
    return value


JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_json_object),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": JSON_TEXT_PATTERN},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        }
    ),
]
CustomerIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_MAX,
        pattern=PATH_ID_PATTERN,
        description="The customer's id: 1-200 characters, no control characters and no `/`",
    ),
]
