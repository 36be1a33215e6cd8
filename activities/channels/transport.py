"""The transport under the shared httpx client: aiohttp's connection pool.

httpcore (httpx's default transport) checks every pooled connection with two system calls
each time a request starts or ends. With 20 sends in flight that cost ~2.5 ms of CPU per
POST, against ~0.8 ms through aiohttp's pool (bench/delivery.py, same sink, same client
code), and it was the largest cost of a governed send. ``httpx-aiohttp`` (what the OpenAI
SDK offers for the same reason) keeps the httpx API the adapters use: requests, responses
and exceptions are httpx's.

One correction: it reports a refused or dropped connection as ``httpx.ConnectTimeout``;
here that is ``httpx.ConnectError``, so the failure is named for what happened
(``ChannelConnectionFailed`` rather than ``ChannelTimeout``; both are retried). aiohttp has
no write timeout; the read timeout still bounds a provider that stops answering.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class ProviderTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TimeoutException as err:
            cause = err.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(
                cause, TimeoutError
            ):
                raise httpx.ConnectError(str(err) or repr(cause), request=request) from cause
            raise
