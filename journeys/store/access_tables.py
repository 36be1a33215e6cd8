"""API keys, stored hashed: the key is shown once, at creation, and never again."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlmodel import Field, SQLModel

from journeys.store.tables import UTCDateTime, timestamp_field

KEY_PREFIX = "jrn"


class ApiKey(SQLModel, table=True):
    """``lookup`` (the key's public first part) finds the row; ``digest`` proves the rest.

    SHA-256 rather than a slow password hash: keys are 256 random bits, not something a
    person chose, so there is nothing to guess, and every request checks one.
    """

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    lookup: str = Field(unique=True)
    digest: str
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def new_key() -> tuple[str, str, str]:
    """(the key to show once, its lookup part, the digest to store)."""
    lookup = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}_{lookup}_{secret}"
    return key, lookup, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The lookup part of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def matches(key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key), stored_digest)
