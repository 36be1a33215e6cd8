"""Signed one-click unsubscribe links (RFC 8058) that carry their issue time; no state.

A token names who unsubscribes from what, and when it was made:
``(customer_id, channel, purpose, issued_at)``. It is ``<payload>.<signature>``: the payload
is the URL-safe base64 (no padding) of the JSON list ``[customer_id, channel, purpose,
issued_at]`` (Unix seconds), the signature the URL-safe base64 of HMAC-SHA256 over
``journeys-unsubscribe-v2.`` + the payload, keyed with ``JOURNEYS_SECRET_KEY``.
Verification compares signatures in constant time and only then decodes the payload.

**Lifetime: 365 days by default** (``JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS``, at least 30). A link
must work whenever the customer finds the mail, and mailbox providers POST the one-click
link themselves: CAN-SPAM requires it to work for at least 30 days after sending, and a
link that fails is answered with a spam complaint, which costs far more than an honoured
opt-out. A year covers the old mails people actually act on; what a longer life would
add is exposure of a link that was forwarded or leaked (it opts that customer out). An
expired link changes nothing and tells the customer how to unsubscribe otherwise.

**Rotating the key**: put the old key in ``JOURNEYS_PREVIOUS_SECRET_KEYS`` (comma-separated)
and a new one in ``JOURNEYS_SECRET_KEY``. New links are signed with the new key; links
signed with a listed previous key keep working until they expire. Every link signed with
the old key was issued before the rotation, so one lifetime later none is valid any more
and the old key can go (at once, if it leaked: its links then get the expired page).

**Links from before issue times** (``journeys-unsubscribe-v1.``, the payload
``[customer_id, channel, purpose]``) keep working, with any configured key: they are in
mails already sent, and refusing them would break the 30 days the law asks for. Set
``JOURNEYS_UNSUBSCRIBE_LEGACY_UNTIL`` (a date, e.g. one lifetime after the upgrade) to end
that transition; after it they get the expired page. The payload is signed, not encrypted:
the customer id is readable by whoever sees the link (the recipient, their mailbox).

Pure functions over settings read from the environment; the HTTP endpoint that honours
``POST /u/<token>`` (``List-Unsubscribe=One-Click``) and shows a GET confirmation page is
``journeys.api.unsubscribe``, which calls ``read_token``.
"""

from __future__ import annotations

import binascii
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.delivery.signing import b64decode, b64encode, sign, verifies
from journeys.process.settings import SettingsError, describe

# Shorter keys are refused: the secret is all that stands between a guessed link and
# someone else's opt-out.
MIN_SECRET_LENGTH = 32
# Bound the work one request can cause before the signature is even checked.
MAX_TOKEN_LENGTH = 4096
# Domain separation: a MAC made with the same secret for another purpose (say, a webhook
# signature) can never pass as an unsubscribe token, nor a token of one format as the other.
_CONTEXT = b"journeys-unsubscribe-v2."
_LEGACY_CONTEXT = b"journeys-unsubscribe-v1."
_GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
DEFAULT_LIFETIME_DAYS = 365
MIN_LIFETIME_DAYS = 30  # CAN-SPAM: an opt-out must work for 30 days after sending


class UnsubscribeSettings(BaseSettings):
    """``JOURNEYS_SECRET_KEY`` signs tokens; ``JOURNEYS_PUBLIC_URL`` is where links point;
    ``JOURNEYS_PREVIOUS_SECRET_KEYS`` still verify; ``JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS`` and
    ``JOURNEYS_UNSUBSCRIBE_LEGACY_UNTIL`` bound how long links work (module notes).

    The survey answer links use the same key, URL and previous keys, and live
    ``JOURNEYS_SURVEY_TOKEN_DAYS`` (90 by default: ``journeys.delivery.surveys``)."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", extra="ignore")

    secret_key: SecretStr | None = None
    public_url: str | None = None  # e.g. https://journeys.example.com
    previous_secret_keys: SecretStr | None = None  # comma-separated
    unsubscribe_token_days: int = Field(default=DEFAULT_LIFETIME_DAYS, ge=MIN_LIFETIME_DAYS)
    unsubscribe_legacy_until: date | None = None  # links without an issue time: until then
    # Survey answer links (journeys.delivery.surveys) share the key, URL and rotation.
    survey_token_days: int = Field(default=90, ge=1, le=3653)

    def __init__(self, **values: Any) -> None:
        # A bad value stops the start with the variable named, not a validation trace.
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise SettingsError(describe(err)) from None

    @field_validator("previous_secret_keys")
    @classmethod
    def _previous_keys_are_strong(cls, value: SecretStr | None) -> SecretStr | None:
        for part in _parts(value):
            if len(part) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"a key of {len(part)} characters (at least {MIN_SECRET_LENGTH} each, "
                    "comma-separated)"
                )
        return value

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

    def verifying_keys(self) -> list[bytes]:
        """The signing key, then each previous key (still accepted after a rotation)."""
        return [self.key()] + [part.encode("utf-8") for part in _parts(self.previous_secret_keys)]

    @property
    def lifetime(self) -> timedelta:
        return timedelta(days=self.unsubscribe_token_days)

    @property
    def survey_lifetime(self) -> timedelta:
        return timedelta(days=self.survey_token_days)

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


def _parts(keys: SecretStr | None) -> list[str]:
    text = keys.get_secret_value() if keys else ""
    return [part.strip() for part in text.split(",") if part.strip()]


class UnsubscribeTarget(NamedTuple):
    """What a token unsubscribes: this customer, from this channel, for this purpose."""

    customer_id: str
    channel: str
    purpose: str


class InvalidUnsubscribeToken(ValueError):
    """The token was not made with our key (tampered, truncated, or from elsewhere)."""


class ExpiredUnsubscribeToken(InvalidUnsubscribeToken):
    """A genuine token past its lifetime: who it names is known, but it changes nothing.

    ``issued_at`` None: a link from before tokens carried their issue time.
    """

    def __init__(self, target: UnsubscribeTarget, issued_at: datetime | None) -> None:
        when = issued_at.date().isoformat() if issued_at else "before issue times"
        super().__init__(f"unsubscribe token issued {when} has expired")
        self.target = target
        self.issued_at = issued_at


def make_token(
    customer_id: str,
    channel: str,
    purpose: str,
    *,
    settings: UnsubscribeSettings | None = None,
    issued_at: datetime | None = None,
) -> str:
    """The signed token for (customer, channel, purpose), issued now (or at ``issued_at``,
    whole seconds): the same inputs give the same token."""
    target = UnsubscribeTarget(customer_id, channel, purpose)
    for name, value in target._asdict().items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"unsubscribe token: {name} must be a non-empty string")
    key = (settings or UnsubscribeSettings()).key()
    issued = int((issued_at or datetime.now(UTC)).timestamp())
    raw = json.dumps([*target, issued], ensure_ascii=False, separators=(",", ":"))
    payload = b64encode(raw.encode("utf-8"))
    return f"{payload}.{sign(key, _CONTEXT, payload)}"


def unsubscribe_url(
    customer_id: str,
    channel: str,
    purpose: str,
    *,
    settings: UnsubscribeSettings | None = None,
    issued_at: datetime | None = None,
) -> str:
    """``<JOURNEYS_PUBLIC_URL>/u/<token>``: the one-click link for List-Unsubscribe."""
    settings = settings or UnsubscribeSettings()
    base = settings.base_url()  # checked first: a missing URL is the likelier mistake to report
    token = make_token(customer_id, channel, purpose, settings=settings, issued_at=issued_at)
    return f"{base}/u/{token}"


def read_token(
    token: str, *, settings: UnsubscribeSettings | None = None, now: datetime | None = None
) -> UnsubscribeTarget:
    """The (customer_id, channel, purpose) a token names.

    ``InvalidUnsubscribeToken`` if it is not ours; ``ExpiredUnsubscribeToken`` (a subclass)
    if it is ours and past its lifetime at ``now``. A missing or weak secret raises
    ``SettingsError`` (a server problem, not a bad link).
    """
    settings = settings or UnsubscribeSettings()
    keys = settings.verifying_keys()
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidUnsubscribeToken("unsubscribe token is malformed")
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidUnsubscribeToken("unsubscribe token is malformed")
    current = verifies(keys, _CONTEXT, payload, signature)
    legacy = not current and verifies(keys, _LEGACY_CONTEXT, payload, signature)
    if not (current or legacy):
        raise InvalidUnsubscribeToken("unsubscribe token has a bad signature")
    values = _payload(payload, fields=4 if current else 3)
    target = UnsubscribeTarget(*values[:3])
    now = now or datetime.now(UTC)
    if legacy:
        until = settings.unsubscribe_legacy_until
        if until is not None and now >= datetime.combine(until, time(), UTC) + timedelta(days=1):
            raise ExpiredUnsubscribeToken(target, None)
        return target
    issued_at = datetime.fromtimestamp(values[3], UTC)
    if now - issued_at > settings.lifetime:
        raise ExpiredUnsubscribeToken(target, issued_at)
    return target


def _payload(payload: str, fields: int) -> list[str | int]:
    """The signed JSON list: ``fields - 3`` trailing integers after three non-empty strings."""
    try:
        values = json.loads(b64decode(payload).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError) as err:
        # Only reachable with a valid signature over garbage, i.e. never from make_token.
        raise InvalidUnsubscribeToken("unsubscribe token payload is unreadable") from err
    if not (
        isinstance(values, list)
        and len(values) == fields
        and all(isinstance(value, str) and value for value in values[:3])
        and all(type(value) is int and 0 <= value < 2**37 for value in values[3:])
    ):
        raise InvalidUnsubscribeToken("unsubscribe token payload is unreadable")
    return values
