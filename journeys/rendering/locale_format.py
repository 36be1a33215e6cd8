"""Amounts, numbers and dates as the customer's locale writes them (Babel's CLDR data).

``{{ 1250 | number(customer.locale) }}`` is "1,250" in English and "1 250" in French;
``{{ event.expires_on | date(customer.locale) }}`` is "January 31, 2027" or
"31 janvier 2027". A locale Babel does not know falls back to English rather than failing
a send.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal


@lru_cache(maxsize=256)
def _locale(name: str | None) -> Locale:
    try:
        return Locale.parse((name or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def money(value: Any, currency: str = "EUR", locale: str | None = "en") -> str:
    return format_currency(float(value), currency or "EUR", locale=_locale(locale))


def number(value: Any, locale: str | None = "en") -> str:
    return format_decimal(value, locale=_locale(locale))


def local_date(value: Any, locale: str | None = "en", format: str = "long") -> str:
    """``format``: short, medium, long (default) or full, as CLDR defines them per locale."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.date()  # already in the customer's zone when it matters (expires_on)
    if not isinstance(value, date):
        raise TypeError(f"cannot format {value!r} as a date")
    return format_date(value, format=format, locale=_locale(locale))
