"""API keys: create, list, revoke, verify. Mixed into ``Store``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from journeys.store.access_tables import ApiKey, matches, new_key, split_key
from journeys.store.tables import utcnow


class AccessRecords:
    _session: Any  # provided by Store: a locked, short-lived Session

    def create_api_key(self, name: str) -> tuple[str, ApiKey]:
        """The new key (shown once: only its digest is kept) and its row."""
        if not name.strip():
            raise ValueError("an API key needs a name (what uses it, e.g. 'shop-backend')")
        key, lookup, stored = new_key()
        row = ApiKey(name=name.strip(), lookup=lookup, digest=stored)
        with self._session() as session:
            session.add(row)
            session.commit()
            return key, row

    def api_keys(self) -> list[ApiKey]:
        with self._session() as session:
            return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())

    def revoke_api_key(self, name_or_lookup: str) -> int:
        """Revokes the keys with that name or lookup part; returns how many."""
        with self._session() as session:
            result = session.execute(
                update(ApiKey)
                .where(
                    (col(ApiKey.name) == name_or_lookup) | (col(ApiKey.lookup) == name_or_lookup),
                    col(ApiKey.revoked_at).is_(None),
                )
                .values(revoked_at=utcnow())
            )
            session.commit()
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def verify_api_key(self, key: str) -> ApiKey | None:
        """The key's row if it is ours and not revoked, else None."""
        lookup = split_key(key)
        if lookup is None:
            return None
        with self._session() as session:
            row = session.exec(select(ApiKey).where(ApiKey.lookup == lookup)).first()
        if row is None or row.revoked_at is not None or not matches(key, row.digest):
            return None
        return row
