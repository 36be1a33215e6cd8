"""Signed one-click unsubscribe links (RFC 8058), with no expiry and no state.

A token names who unsubscribes from what: ``(customer_id, channel, purpose)``. It is
``<payload>.<signature>``, where the payload is the URL-safe base64 (no padding) of the JSON
list ``[customer_id, channel, purpose]`` and the signature is the URL-safe base64 of
HMAC-SHA256 over the payload, keyed with ``JOURNEYS_SECRET_KEY``. Verification compares
signatures in constant time and only then decodes the payload.

Why no expiry: a link in a mail must work whenever the customer clicks it, and mailbox
providers POST the one-click link themselves, possibly long after delivery. The price is
that rotating ``JOURNEYS_SECRET_KEY`` breaks every link already sent. The payload is signed,
not encrypted: the customer id is readable by whoever sees the link (the recipient and
their mailbox provider).

Pure functions over settings read from the environment; the HTTP endpoint that honours
``POST /u/<token>`` (``List-Unsubscribe=One-Click``) and shows a GET confirmation page is
``journeys.api.unsubscribe``, which calls ``read_token``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import NamedTuple
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.settings import SettingsError

# Shorter keys are refused: the secret is all that stands between a guessed link and
# someone else's opt-out.
MIN_SECRET_LENGTH = 32
# Bound the work one request can cause before the signature is even checked.
MAX_TOKEN_LENGTH = 4096
# Domain separation: a MAC made with the same secret for another purpose (say, a webhook
# signature) can never pass as an unsubscribe token.
_CONTEXT = b"journeys-unsubscribe-v1."
_GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class UnsubscribeSettings(BaseSettings):
    """``JOURNEYS_SECRET_KEY`` signs tokens; ``JOURNEYS_PUBLIC_URL`` is where links point."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", extra="ignore")

    secret_key: SecretStr | None = None
    public_url: str | None = None  # e.g. https://journeys.example.com

    def key(self) -> bytes:
        """The signing key; a ``SettingsError`` that says what to do when it is unusable."""
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if not secret:
            raise SettingsError(
                "JOURNEYS_SECRET_KEY is not set: unsubscribe links are signed with it. "
                f"Generate one with `{_GENERATE_HINT}` and set it in the environment "
                "(never in a file in the repository)."
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"JOURNEYS_SECRET_KEY is too short ({len(secret)} characters; at least "
                f"{MIN_SECRET_LENGTH}). Generate one with `{_GENERATE_HINT}`."
            )
        return secret.encode("utf-8")

    def base_url(self) -> str:
        """``JOURNEYS_PUBLIC_URL`` without a trailing slash (a path prefix is kept)."""
        url = (self.public_url or "").strip().rstrip("/")
        if not url:
            raise SettingsError(
                "JOURNEYS_PUBLIC_URL is not set: unsubscribe links need the public address "
                "of this service, e.g. https://journeys.example.com"
            )
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise SettingsError(
                f"JOURNEYS_PUBLIC_URL={self.public_url!r}: expected an absolute https:// URL "
                "(RFC 8058 one-click unsubscribe requires HTTPS; http is for local testing)"
            )
        if parts.query or parts.fragment:
            raise SettingsError(
                f"JOURNEYS_PUBLIC_URL={self.public_url!r}: must not have a query or fragment"
            )
        return url


class UnsubscribeTarget(NamedTuple):
    """What a token unsubscribes: this customer, from this channel, for this purpose."""

    customer_id: str
    channel: str
    purpose: str


class InvalidUnsubscribeToken(ValueError):
    """The token was not made with our key (tampered, truncated, or from elsewhere)."""


def make_token(
    customer_id: str, channel: str, purpose: str, *, settings: UnsubscribeSettings | None = None
) -> str:
    """The signed token for (customer, channel, purpose); same inputs, same token."""
    target = UnsubscribeTarget(customer_id, channel, purpose)
    for name, value in target._asdict().items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"unsubscribe token: {name} must be a non-empty string")
    key = (settings or UnsubscribeSettings()).key()
    raw = json.dumps(list(target), ensure_ascii=False, separators=(",", ":"))
    payload = _b64encode(raw.encode("utf-8"))
    return f"{payload}.{_sign(key, payload)}"


def unsubscribe_url(
    customer_id: str, channel: str, purpose: str, *, settings: UnsubscribeSettings | None = None
) -> str:
    """``<JOURNEYS_PUBLIC_URL>/u/<token>``: the one-click link for List-Unsubscribe."""
    settings = settings or UnsubscribeSettings()
    base = settings.base_url()  # checked first: a missing URL is the likelier mistake to report
    return f"{base}/u/{make_token(customer_id, channel, purpose, settings=settings)}"


def read_token(token: str, *, settings: UnsubscribeSettings | None = None) -> UnsubscribeTarget:
    """The (customer_id, channel, purpose) a token names; ``InvalidUnsubscribeToken`` if forged.

    A missing or weak secret raises ``SettingsError`` (a server problem, not a bad link).
    """
    key = (settings or UnsubscribeSettings()).key()
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidUnsubscribeToken("unsubscribe token is malformed")
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidUnsubscribeToken("unsubscribe token is malformed")
    expected = _sign(key, payload).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("ascii")):
        raise InvalidUnsubscribeToken("unsubscribe token has a bad signature")
    try:
        values = json.loads(_b64decode(payload).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError) as err:
        # Only reachable with a valid signature over garbage, i.e. never from make_token.
        raise InvalidUnsubscribeToken("unsubscribe token payload is unreadable") from err
    if not (
        isinstance(values, list)
        and len(values) == len(UnsubscribeTarget._fields)
        and all(isinstance(value, str) and value for value in values)
    ):
        raise InvalidUnsubscribeToken("unsubscribe token payload is unreadable")
    return UnsubscribeTarget(*values)


def _sign(key: bytes, payload: str) -> str:
    # The MAC covers the payload exactly as transmitted, so only the canonical encoding
    # of a payload verifies (no alternative base64 spellings of the same token).
    digest = hmac.new(key, _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
