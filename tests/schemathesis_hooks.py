"""Schemathesis hooks for ``tests/api/test_api_schema.py``: the two profile rules JSON Schema
cannot state, applied to the cases that are meant to be valid.

* a body's ``id`` must be the customer id of the path (a schema cannot refer to the path);
* a ``birthday`` is not in the future (a schema has no "today").

Only positive cases are changed: a negative case stays as generated, so a server that
accepted a bad id or birthday would still be caught.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import schemathesis

PROFILE = "/v1/customers/{customer_id}"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    if not positive or case.operation.path != PROFILE or case.method.upper() != "PUT":
        return case
    body = case.body
    if isinstance(body, dict):
        if "id" in body:
            # The path parameter arrives here already percent-encoded.
            body["id"] = unquote((case.path_parameters or {}).get("customer_id", ""))
        birthday = body.get("birthday")
        if isinstance(birthday, str) and birthday:
            try:
                born = date.fromisoformat(birthday)
            except ValueError:
                return case
            today = datetime.now(UTC).date()
            if born > today:
                body["birthday"] = born.replace(year=1990, day=min(born.day, 28)).isoformat()
    return case
