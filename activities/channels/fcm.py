"""Push over Firebase Cloud Messaging HTTP v1 (``POST /v1/projects/{project_id}/messages:send``).

The body is ``{"message": {"token", "notification": {"title", "body"}, "data": {...}}}``;
FCM answers ``{"name": "projects/<id>/messages/<id>"}``, which is the message id.

Authentication is an OAuth2 bearer token, either supplied (``ACCESS_TOKEN``, e.g. minted by
the platform's workload identity) or obtained from a service account: a JWT signed with the
account's key (RS256) is exchanged at the token URL (``TOKEN_URL``, else the account's
``token_uri``, else Google's) for an access token, cached until five minutes before it
expires. A 401 on a service-account token drops the cached token and is retried (the next
attempt signs a fresh one); a 401 on a supplied token is permanent (nothing here can renew it).

A device token FCM reports as ``UNREGISTERED`` (the app was uninstalled, or the token
rotated) is removed from the customer's profile — only if it is still the token on file —
and the message is refused for good, so the deliver activity falls back to the next
channel and later journeys see the customer as unreachable by push. A bare 404 without
that error code (e.g. a wrong project id) is refused but removes nothing: a configuration
mistake must not wipe every customer's token.

Exactly-once: FCM has no idempotency key. The delivery key is in the message's ``data``, and
its hash is the Android notification ``tag`` and the APNs ``apns-collapse-id``, so if a
worker dies between FCM's acceptance and the ledger's ``sent`` and the retry sends again,
the device replaces the first notification instead of showing two.

Settings (``JOURNEYS_FCM_*``): ``PROJECT_ID`` (or the service account's), and ``ACCESS_TOKEN``
or ``SERVICE_ACCOUNT_FILE`` (a path) or ``SERVICE_ACCOUNT_JSON`` (the key file's content);
``TOKEN_URL`` and ``BASE_URL`` optional.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.channels.base import OutgoingMessage, PermanentChannelError
from activities.channels.http import (
    UNAVAILABLE,
    ChannelConfigError,
    HttpAdapter,
    classify,
    json_or_none,
    post,
    transient,
)
from journeys.store import Store

__all__ = [
    "FCM_SCOPE",
    "GOOGLE_TOKEN_URL",
    "AccessToken",
    "FcmAdapter",
    "FcmSettings",
    "ServiceAccountToken",
    "StaticToken",
    "fcm_payload",
]

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
UNREGISTERED = "UNREGISTERED"
# Renew this long before the token expires: a send must not race the expiry.
EARLY_RENEWAL_SECONDS = 300
SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key")


class FcmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_FCM_", extra="ignore")

    project_id: str | None = None
    access_token: SecretStr | None = None
    service_account_file: Path | None = None
    service_account_json: SecretStr | None = None
    token_url: str | None = None
    base_url: str = "https://fcm.googleapis.com"

    @property
    def configured(self) -> bool:
        credentials = self.access_token or self.service_account_file or self.service_account_json
        return bool(credentials and (self.project_id or not self.access_token))

    def service_account(self) -> dict[str, Any] | None:
        """The service account key (from the JSON setting, else the file), or None."""
        if self.service_account_json is not None:
            source = "JOURNEYS_FCM_SERVICE_ACCOUNT_JSON"
            raw = self.service_account_json.get_secret_value()
        elif self.service_account_file is not None:
            source = f"JOURNEYS_FCM_SERVICE_ACCOUNT_FILE={self.service_account_file}"
            try:
                raw = self.service_account_file.read_text()
            except OSError as err:
                raise ChannelConfigError(f"{source}: cannot read it: {err}") from None
        else:
            return None
        try:
            info = json.loads(raw)
        except ValueError as err:
            raise ChannelConfigError(f"{source}: not JSON: {err}") from None
        missing = [
            f for f in SERVICE_ACCOUNT_FIELDS if not (isinstance(info, dict) and info.get(f))
        ]
        if missing:
            raise ChannelConfigError(f"{source}: the service account lacks {', '.join(missing)}")
        return info


class AccessToken(ABC):
    """Where the bearer token comes from."""

    renewable = False

    @abstractmethod
    async def token(self) -> str: ...

    @abstractmethod
    def invalidate(self) -> None:
        """Forgets a token the server rejected (renewable sources fetch a new one)."""


class StaticToken(AccessToken):
    def __init__(self, value: str) -> None:
        self.value = value

    async def token(self) -> str:
        return self.value

    def invalidate(self) -> None:
        pass  # supplied from outside: nothing here can renew it


class ServiceAccountToken(AccessToken):
    """OAuth2 JWT-bearer grant (RFC 7523) for a Google service account, cached.

    The exchange goes through the worker's shared client, so it is pooled and timed out like
    every provider call, and its failures are classified the same way (a refused key is
    permanent; an unreachable token endpoint is transient).
    """

    renewable = True

    def __init__(
        self,
        info: Mapping[str, Any],
        client: httpx.AsyncClient,
        token_url: str | None = None,
        scope: str = FCM_SCOPE,
        lifetime: int = 3600,
    ) -> None:
        self.info = dict(info)
        self.client = client
        self.token_url = token_url or self.info.get("token_uri") or GOOGLE_TOKEN_URL
        self.scope = scope
        self.lifetime = lifetime
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def assertion(self, now: float | None = None) -> str:
        """The signed JWT exchanged for an access token."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.info["client_email"],
            "scope": self.scope,
            "aud": self.token_url,
            "iat": issued,
            "exp": issued + self.lifetime,
        }
        headers = {"kid": self.info["private_key_id"]} if self.info.get("private_key_id") else None
        return jwt.encode(claims, self.info["private_key"], algorithm="RS256", headers=headers)

    async def token(self) -> str:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:  # one exchange for all the sends waiting on it
            if not self._fresh():
                await self._exchange()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    def _fresh(self) -> bool:
        deadline = self._expires_at - EARLY_RENEWAL_SECONDS
        return self._token is not None and time.monotonic() < deadline

    async def _exchange(self) -> None:
        form = {"grant_type": JWT_BEARER, "assertion": self.assertion()}
        request = self.client.build_request("POST", self.token_url, data=form)
        response = await post(self.client, "fcm-token", request)
        body = json_or_none(response)
        if not response.is_success:
            text = _oauth_error(body) or response.text.strip() or response.reason_phrase
            raise classify("fcm-token", response, f"service account refused: {text}")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise transient("fcm-token", UNAVAILABLE, "token endpoint answered no access_token")
        expires_in = body.get("expires_in", self.lifetime)
        self._token = str(token)
        self._expires_at = time.monotonic() + float(expires_in)


def _collapse_id(delivery_key: str) -> str:
    """64 hex characters: APNs' limit for ``apns-collapse-id``, and a fine Android tag."""
    return hashlib.sha256(delivery_key.encode()).hexdigest()


def fcm_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The v1 ``messages:send`` body (``data`` values must be strings)."""
    collapse = _collapse_id(message.delivery_key)
    return {
        "message": {
            "token": message.recipient,
            "notification": {"title": message.subject, "body": message.text},
            "data": {
                "delivery_key": message.delivery_key,
                "scenario_id": message.scenario_id,
                "step_id": message.step_id,
            },
            "android": {"notification": {"tag": collapse}},
            "apns": {"headers": {"apns-collapse-id": collapse}},
        }
    }


class FcmAdapter(HttpAdapter):
    """Push sender; takes the store because an ``UNREGISTERED`` token is removed from it."""

    provider = "fcm"

    def __init__(
        self,
        client: httpx.AsyncClient,
        store: Store,
        settings: FcmSettings | None = None,
        *,
        max_retry_after: float = 3600.0,
    ) -> None:
        super().__init__(client, max_retry_after=max_retry_after)
        self.store = store
        self.settings = settings or FcmSettings()
        account = self.settings.service_account()
        project_id = self.settings.project_id or (account or {}).get("project_id")
        if not project_id:
            raise ChannelConfigError("FCM is not configured: set JOURNEYS_FCM_PROJECT_ID")
        self.project_id = str(project_id)
        self.credentials: AccessToken
        if self.settings.access_token is not None:
            self.credentials = StaticToken(self.settings.access_token.get_secret_value())
        elif account is not None:
            self.credentials = ServiceAccountToken(account, client, self.settings.token_url)
        else:
            raise ChannelConfigError(
                "FCM is not configured: set JOURNEYS_FCM_ACCESS_TOKEN, "
                "JOURNEYS_FCM_SERVICE_ACCOUNT_FILE or JOURNEYS_FCM_SERVICE_ACCOUNT_JSON"
            )

    async def build_request(self, message: OutgoingMessage) -> httpx.Request:
        token = await self.credentials.token()
        base = self.settings.base_url.rstrip("/")
        return self.client.build_request(
            "POST",
            f"{base}/v1/projects/{self.project_id}/messages:send",
            json=fcm_payload(message),
            headers={"Authorization": f"Bearer {token}"},
        )

    def parse_message_id(self, message: OutgoingMessage, response: httpx.Response) -> str:
        body = json_or_none(response)
        name = body.get("name") if isinstance(body, dict) else None
        return str(name) if name else f"fcm:{message.delivery_key}"

    async def refusal(self, message: OutgoingMessage, response: httpx.Response) -> Exception:
        codes = _error_codes(json_or_none(response))
        if UNREGISTERED in codes:
            removed = await asyncio.to_thread(
                _forget_token, self.store, message.customer_id, message.recipient
            )
            note = "removed from the profile" if removed else "already replaced on the profile"
            return PermanentChannelError(
                f"fcm: device token unregistered ({note}): {self.error_text(response)}"
            )
        if response.status_code == 401 and self.credentials.renewable:
            self.credentials.invalidate()  # expired or revoked: the retry signs a new one
            return transient(self.provider, UNAVAILABLE, f"HTTP 401: {self.error_text(response)}")
        return await super().refusal(message, response)

    def error_text(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            status = error.get("status")
            codes = _error_codes(body)
            label = "/".join(str(c) for c in (status, *codes) if c)
            return f"{label}: {error['message']}" if label else str(error["message"])
        return super().error_text(response)


def _error_codes(body: Any) -> list[str]:
    """The ``errorCode``s of an FCM error's ``details`` (``UNREGISTERED``, ``QUOTA_EXCEEDED``)."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return []
    return [str(d["errorCode"]) for d in details if isinstance(d, dict) and d.get("errorCode")]


def _oauth_error(body: Any) -> str:
    if not isinstance(body, dict) or not body.get("error"):
        return ""
    description = body.get("error_description")
    return f"{body['error']}: {description}" if description else str(body["error"])


def _forget_token(store: Store, customer_id: str, token: str) -> bool:
    """Clears the customer's push token if it is still ``token``; True if it was cleared.

    A read then a write, not one statement: a token registered in between by the app would
    be lost only if it arrived in the same instant, and the next app start registers it again.
    """
    customer = store.customers.get(customer_id)
    if customer is None or customer.get("push_token") != token:
        return False
    store.customers.upsert(customer_id, push_token=None)
    return True
