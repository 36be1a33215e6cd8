"""How the API says no: 422s that can always be written, and 405s with the real ``Allow``.

FastAPI's own 422 echoes each bad ``input`` back; an input holding an unpaired surrogate
or a NaN cannot be encoded as JSON, so the answer to a bad request became a 500. Here the
error names the field (``loc``), says why (``msg``) and leaves the input out: the client
sent it, and echoing a large body back helps nobody. Text is ASCII-escaped, so any key
named in ``loc`` can be written.

Starlette's 405 lists the methods of the first route matching the path only; ``/u/{token}``
has a GET and a POST route, so ``Allow`` is built from every route of the path.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, default=str).encode()


def _error(error: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
    }
    return out


async def validation_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": [_error(e) for e in exc.errors()]}, status_code=422)


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer to an HTTPException, with the full ``Allow`` on a 405."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return SafeJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(StarletteHTTPException, http_error)
