"""The rules of a customer's profile fields, shared by the store, the API and ``validate``.

Pure: a scenario's ``update: {set: {time_zone: Europe/Pari}}`` is refused at validate time
with the very sentence the store would raise when the journey runs, without either side
importing the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeys.model.channels import CHANNELS, SPECS

# Columns of the customer row; everything else a caller sets goes to ``attributes``.
ADDRESS_FIELDS = tuple(spec.address_field for spec in SPECS.values())
PROFILE_FIELDS = (*ADDRESS_FIELDS, "locale", "time_zone", "birthday", "consent")


def normalize_address(channel: str, address: str) -> str:
    """The form an address is compared in on the suppression list.

    Email: trimmed and lower-cased (mailbox providers treat local parts case-insensitively,
    and so do ESP suppression lists). Phone: the digits with a leading ``+`` kept, so
    ``+33 6 12-34`` matches the E.164 ``+33612 34`` a provider reports. Others: trimmed.
    """
    address = address.strip()
    if channel == "email":
        return address.lower()
    if channel == "sms":
        digits = "".join(c for c in address if c.isdigit())
        return f"+{digits}" if address.startswith("+") else digits
    return address


_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,}[0-9]$")
# The same rules as text, for the API's OpenAPI schema.
PROFILE_PATTERNS = {"locale": _LOCALE.pattern, "email": _EMAIL.pattern, "phone": _PHONE.pattern}


def check_profile_value(name: str, value: Any) -> Any:
    """The rules of one profile field, shared by the store and ``journeys validate``.

    A scenario's ``update: {set: {time_zone: Europe/Pari}}`` is rejected at validate time
    with the very sentence the store would raise when the journey runs. ``None`` (or empty
    text, as a form sends it) is always allowed: it clears the field or resets its default.
    """
    if value is None or value == "":
        return None
    if name == "consent":
        return _check_consent(value)
    if name == "birthday":
        return check_birthday(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {value!r}")
    if name == "time_zone":
        return check_time_zone(value)
    if name == "locale" and not _LOCALE.match(value):
        raise ValueError(f"'{value}' is not a locale (e.g. en, fr or fr-CA)")
    if name == "email" and not _EMAIL.match(value):
        raise ValueError(f"'{value}' is not an email address")
    if name == "phone" and not _PHONE.match(value):
        raise ValueError(f"'{value}' is not a phone number (e.g. +33612345678)")
    if name == "push_token" and not value.strip():
        raise ValueError("push_token must not be blank")
    return value


def _check_consent(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise ValueError(f"consent must map channels to true/false, not {value!r}")
    for channel, flag in value.items():
        if channel not in CHANNELS:
            raise ValueError(f"consent channel '{channel}' must be one of {', '.join(CHANNELS)}")
        if not isinstance(flag, bool):
            raise ValueError(f"consent.{channel} must be true or false, not {flag!r}")
    return dict(value)


def check_birthday(value: Any) -> date:
    """A calendar date in the past: ``1990-03-05`` (text, as CSV and JSON carry it)."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"birthday '{value}' is not a date: write YYYY-MM-DD") from None
    if not isinstance(value, date):
        raise ValueError(f"birthday must be a date (YYYY-MM-DD), not {value!r}")
    if value > datetime.now(UTC).date():
        raise ValueError(f"birthday {value.isoformat()} is in the future")
    return value


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Europe/Paris)") from err
    return name
