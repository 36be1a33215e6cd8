"""The Python client for the HTTP API: ``track`` events and ``identify`` customers.

Ids are generated here, before the first attempt, so a retry after a lost answer sends
the same id and the API applies it once. Connection errors, timeouts, 429 and 5xx are
retried with exponential backoff (tenacity: these calls are outside Temporal, whose own
retries cover everything else); a 4xx is the caller's mistake and raises at once.

    from journeys.client import JourneysClient

    with JourneysClient("https://journeys.example", api_key) as journeys:
        journeys.identify("c-42", email="ana@example.com", consent={"email": True})
        journeys.track("c-42", "purchase", {"amount": 42.5})
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)


class JourneysError(RuntimeError):
    """The API refused the request (a 4xx): retrying the same request cannot help."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def _transient(error: BaseException) -> bool:
    if isinstance(error, httpx.TransportError):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 429 or error.response.status_code >= 500
    return False


class JourneysClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        attempts: int = 6,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._send = retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=10),
            reraise=True,
        )(self._send_once)

    def track(
        self,
        customer_id: str,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> str:
        """Sends one event; returns its id (generated when not given)."""
        event = _event(customer_id, name, properties, event_id, occurred_at)
        self._request("POST", "/v1/events", event)
        return str(event["id"])

    def track_many(self, events: list[dict[str, Any]]) -> list[str]:
        """Sends up to 500 events in one request: ``{"customer_id", "name", ...}`` each."""
        batch = [
            _event(
                e["customer_id"],
                e["name"],
                e.get("properties"),
                e.get("id"),
                e.get("occurred_at"),
            )
            for e in events
        ]
        self._request("POST", "/v1/events/batch", {"events": batch})
        return [str(e["id"]) for e in batch]

    def identify(self, customer_id: str, **profile: Any) -> dict[str, Any]:
        """Creates or updates the customer; returns the stored profile and loyalty snapshot."""
        if isinstance(profile.get("birthday"), datetime):
            profile["birthday"] = profile["birthday"].date().isoformat()
        return self._request("PUT", f"/v1/customers/{customer_id}", profile)

    def _request(self, method: str, path: str, body: Any) -> Any:
        response = self._send(method, path, body)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise JourneysError(response.status_code, detail)
        return response.json()

    def _send_once(self, method: str, path: str, body: Any) -> httpx.Response:
        response = self._http.request(method, path, json=body)
        if response.status_code == 429 or response.status_code >= 500:
            response.raise_for_status()  # HTTPStatusError: retried
        return response

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JourneysClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _event(
    customer_id: str,
    name: str,
    properties: Mapping[str, Any] | None,
    event_id: str | None,
    occurred_at: datetime | str | None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id or uuid.uuid4().hex,
        "customer_id": customer_id,
        "name": name,
        "properties": dict(properties or {}),
    }
    if occurred_at is not None:
        event["occurred_at"] = (
            occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at
        )
    return event
