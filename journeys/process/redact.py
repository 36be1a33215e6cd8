"""Credentials out of text that may be logged or shown: URLs with a password in them.

The store URL (``JOURNEYS_DATABASE_URL``, e.g. ``postgresql+psycopg://app:secret@db/journeys``)
is the one setting that carries a secret inside a value operators want to see in logs (which
database?). ``redact`` keeps the URL readable and replaces the password; every log line goes
through it too (``journeys.process.logs``), so a library that prints a URL, or an exception whose
message quotes one, does not leak it either. Secrets that are whole values (API keys,
tokens, the secret key) are ``SecretStr`` in their settings and never reach a log line.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host — the password ends at the first "@" (RFC 3986: a literal "@"
# in a password must be percent-encoded), whitespace or double quote; a "'" may be in it.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"'<>]*:)[^@\s\"<>]+@")
# libpq and SQLAlchemy also accept ?password=... in the query.
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)[^&;\s\"'<>]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text  # the common case: nothing to look at
    text = _USERINFO.sub(rf"\g<head>{MASK}@", text)
    return _QUERY.sub(rf"\g<head>{MASK}", text)
