"""The shared base of the HTTP provider adapters: one client, one way to classify answers.

Each provider module (``sendgrid``, ``twilio``, ``fcm``, ``webhook``) only builds its request
and reads its answer, like django-anymail's backends: build payload → post → parse status.
Everything else lives here, so the providers agree on what a failure means:

* 2xx → sent; the provider's message id is returned;
* 429 → transient: a retryable ``ApplicationError`` whose ``next_retry_delay`` is the
  provider's ``Retry-After`` (so Temporal's next attempt comes when the provider said, not
  when the retry policy's backoff would have guessed);
* 408, 5xx, timeouts, connection errors → transient (retryable ``ApplicationError``); a
  ``Retry-After`` on a 503 (or any of them) is honoured the same way;
* any other 4xx → ``PermanentChannelError`` with the provider's own error text: the deliver
  activity records the refusal and falls back to the next channel; it never retries it.

Transient failures are ``ApplicationError``s rather than bare exceptions so the Temporal UI
shows a named failure type (``ChannelRateLimited``, ``ChannelUnavailable``, ...) and the
provider's answer; the deliver activity re-raises every retryable ``ApplicationError``.

Exactly-once: the deliver activity's ledger (reserved before the call, ``sent`` after it)
stops a second send once a send is recorded. What it cannot see is a send the provider
accepted when the worker died before recording it; each adapter passes the delivery key to
the provider where the provider has a field for it (see each module). Within one worker
process the adapter also remembers the keys it sent, so an attempt that failed *after* the
provider accepted (e.g. the ledger write timed out) gets the first message id back without
a second request — the ``ChannelAdapter`` contract.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.exceptions import ApplicationError

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from activities.channels.transport import ProviderTransport

__all__ = [
    "CONNECTION_FAILED",
    "RATE_LIMITED",
    "TIMED_OUT",
    "UNAVAILABLE",
    "ChannelConfigError",
    "HttpAdapter",
    "HttpSettings",
    "build_http_client",
    "classify",
    "json_or_none",
    "parse_retry_after",
    "post",
    "require",
    "transient",
]

log = logging.getLogger("journeys.channels")

# ApplicationError types of the transient failures (what the Temporal UI shows).
RATE_LIMITED = "ChannelRateLimited"
UNAVAILABLE = "ChannelUnavailable"
TIMED_OUT = "ChannelTimeout"
CONNECTION_FAILED = "ChannelConnectionFailed"

# Provider text kept in an error (it lands in the ledger and in workflow history).
ERROR_TEXT_LIMIT = 500
# Keys remembered per adapter for in-process idempotency (a few MB at most).
REMEMBERED_KEYS = 10_000
USER_AGENT = "journeys/0.1 (+httpx)"


class HttpSettings(BaseSettings):
    """The worker's shared HTTP client (``JOURNEYS_HTTP_*``).

    The read timeout stays well below the deliver activity's start-to-close timeout (2 min)
    so a hung provider fails the attempt with a clear ``ChannelTimeout`` instead of Temporal
    timing the whole activity out.
    """

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_HTTP_", extra="ignore")

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 10.0
    pool_timeout: float = 5.0
    max_connections: int = 100
    max_keepalive_connections: int = 20
    keepalive_expiry: float = 30.0
    # A Retry-After longer than this is cut to it (a provider bug must not park a send).
    max_retry_after: float = 3600.0


def build_http_client(settings: HttpSettings | None = None) -> httpx.AsyncClient:
    """The one ``AsyncClient`` a worker shares between its adapters (connection pooling).

    Create it inside the worker's event loop and close it (``await client.aclose()`` or
    ``async with``) when the worker stops. Redirects are not followed: a provider API that
    redirects a POST is misconfigured, and following it could resend the message elsewhere.
    Requests go through aiohttp's connection pool (see ``transport``), ~3x cheaper in CPU.
    """
    settings = settings or HttpSettings()
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
        keepalive_expiry=settings.keepalive_expiry,
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.write_timeout,
            pool=settings.pool_timeout,
        ),
        transport=ProviderTransport(limits=limits),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


class ChannelConfigError(ValueError):
    """A provider adapter was built without the settings it needs (named by variable)."""


def require(settings: BaseSettings, *fields: str) -> None:
    """Raises ``ChannelConfigError`` naming every missing ``<PREFIX><FIELD>`` variable."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    missing = [f"{prefix}{field}".upper() for field in fields if not getattr(settings, field)]
    if missing:
        kind = type(settings).__name__.removesuffix("Settings")
        raise ChannelConfigError(f"{kind} is not configured: set {', '.join(missing)}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def transient(
    provider: str, kind: str, text: str, retry_after: float | None = None
) -> ApplicationError:
    """A retryable failure; with ``retry_after``, Temporal's next attempt waits that long."""
    delay = timedelta(seconds=retry_after) if retry_after is not None else None
    return ApplicationError(f"{provider}: {text}", type=kind, next_retry_delay=delay)


async def post(client: httpx.AsyncClient, provider: str, request: httpx.Request) -> httpx.Response:
    """Sends ``request``; transport failures become transient ``ApplicationError``s.

    A timeout after the request was written may mean the provider accepted it: the retry
    carries the same delivery key (see the module notes on exactly-once).
    """
    try:
        return await client.send(request)
    except httpx.TimeoutException as err:
        raise transient(provider, TIMED_OUT, _describe(err, request)) from err
    except httpx.TransportError as err:
        raise transient(provider, CONNECTION_FAILED, _describe(err, request)) from err


def classify(
    provider: str, response: httpx.Response, text: str, max_retry_after: float = 3600.0
) -> Exception:
    """What a non-2xx answer means: transient (429, 408, 5xx) or a permanent refusal."""
    status = response.status_code
    text = f"HTTP {status}: {_clip(text)}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        retry_after = min(retry_after, max_retry_after)
    if status == 429:
        return transient(provider, RATE_LIMITED, text, retry_after)
    if status == 408 or status >= 500:
        return transient(provider, UNAVAILABLE, text, retry_after)
    return PermanentChannelError(f"{provider}: {text}")


class HttpAdapter(ChannelAdapter):
    """Post one request per message and classify the answer.

    Subclasses implement ``build_request`` and ``parse_message_id``, and may refine
    ``error_text`` (the provider's error body → one line) and ``refusal`` (what a non-2xx
    answer means, e.g. FCM's ``UNREGISTERED`` removes a device token).
    """

    provider: ClassVar[str] = "http"

    def __init__(self, client: httpx.AsyncClient, *, max_retry_after: float = 3600.0) -> None:
        self.client = client
        self.max_retry_after = max_retry_after
        self._sent: OrderedDict[str, str] = OrderedDict()

    async def send(self, message: OutgoingMessage) -> str:
        known = self._sent.get(message.delivery_key)
        if known is not None:
            log.info("%s: %s already sent as %s", self.provider, message.delivery_key, known)
            return known
        request = await self.build_request(message)
        response = await self.post(request)
        if not response.is_success:
            raise await self.refusal(message, response)
        message_id = self.parse_message_id(message, response)
        self._remember(message.delivery_key, message_id)
        return message_id

    async def aclose(self) -> None:
        # The client is shared by the worker's HTTP adapters; closing it twice is harmless.
        await self.client.aclose()

    @abstractmethod
    async def build_request(self, message: OutgoingMessage) -> httpx.Request:
        """The provider call for ``message`` (``self.client.build_request(...)``)."""

    @abstractmethod
    def parse_message_id(self, message: OutgoingMessage, response: httpx.Response) -> str:
        """The provider's id for the accepted message."""

    async def post(self, request: httpx.Request) -> httpx.Response:
        return await post(self.client, self.provider, request)

    async def refusal(self, message: OutgoingMessage, response: httpx.Response) -> Exception:
        """The exception a non-2xx answer raises (override to act on provider codes)."""
        return self.classify(response)

    def classify(self, response: httpx.Response) -> Exception:
        return classify(self.provider, response, self.error_text(response), self.max_retry_after)

    def error_text(self, response: httpx.Response) -> str:
        """The provider's explanation of a refusal, on one line."""
        return response.text.strip() or response.reason_phrase

    def _remember(self, delivery_key: str, message_id: str) -> None:
        self._sent[delivery_key] = message_id
        while len(self._sent) > REMEMBERED_KEYS:
            self._sent.popitem(last=False)


def json_or_none(response: httpx.Response) -> Any:
    """The JSON body, or None when there is none or it does not parse."""
    try:
        return response.json()
    except ValueError:
        return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


def _describe(err: httpx.HTTPError, request: httpx.Request) -> str:
    # The URL without its query: a callback URL or key could sit there.
    url = request.url.copy_with(query=None)
    return f"{type(err).__name__} on {request.method} {url}: {err or 'no detail'}"
