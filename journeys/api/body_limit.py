"""Request bodies have a size limit: 413 beyond it, before any handler reads the body.

One ASGI middleware in front of every route, so the webhooks' signature checks (which read
the whole body to verify it) and the JSON parsing of ``/v1`` never hold more than the
limit in memory. A declared ``Content-Length`` over the limit is refused before a byte of
the body is read (a client sending ``Expect: 100-continue`` is told before it uploads); a
body without one (chunked) is counted as it arrives and cut off at the limit, never
buffered whole. What fits is handed to the app unchanged.

After the 413 the rest of the body is read and dropped (up to ``DRAIN_BYTES`` or
``DRAIN_SECONDS``): a client that sends its whole body before reading the answer (most
do) would otherwise meet a connection reset and never see the 413. A client that waits
for ``100 Continue`` is not drained: it sends nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LimitFor = Callable[[str], int]
DRAIN_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 10.0


class BodyLimit:
    """``limit_for(path)``: the most bytes a request body to ``path`` may have."""

    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                more = message.get("more_body", False)
                await _too_large(scope, receive, send, limit, more_body=more)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1").strip().lower()
    return None


def _replay(chunks: list[bytes], first: Message | None, receive: Receive) -> Receive:
    """The body already read, as one message; then whatever the connection says next."""
    pending: list[Message] = (
        [first] if first is not None else [{"type": "http.request", "body": b"".join(chunks)}]
    )

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _too_large(
    scope: Scope, receive: Receive, send: Send, limit: int, *, more_body: bool = True
) -> None:
    """The 413, then the unread rest of the body dropped before the response ends (once it
    has ended, the server no longer reads for the app)."""
    body = json.dumps(too_large_detail(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The connection cannot carry another request after a body cut short.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})
    if more_body and _header(scope, b"expect") != "100-continue":
        await _drain(receive)
    await send({"type": "http.response.body", "body": b""})


async def _drain(receive: Receive) -> None:
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while dropped <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


def too_large_detail(limit: int) -> dict[str, Any]:
    return {"detail": f"the request body is larger than this endpoint's limit of {limit} bytes"}
