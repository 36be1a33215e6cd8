"""API keys: create, list, revoke, verify. Only a digest is stored, so a leaked database
does not leak keys."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from journeys.process.clock import utcnow
from journeys.store.access_tables import ApiKey, matches, new_key, split_key
from journeys.store.engine import Database


class Access:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create_key(self, name: str) -> tuple[str, ApiKey]:
        """The new key (shown once: only its digest is kept) and its row."""
        if not name.strip():
            raise ValueError("an API key needs a name (what uses it, e.g. 'shop-backend')")
        key, lookup, stored = new_key()
        row = ApiKey(name=name.strip(), lookup=lookup, digest=stored)
        with self._database.session() as session:
            session.add(row)
            session.commit()
            return key, row

    def list_keys(self) -> list[ApiKey]:
        with self._database.session() as session:
            return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())

    def revoke_key(self, name_or_lookup: str) -> int:
        """Revokes the keys with that name or lookup part; returns how many."""
        with self._database.session() as session:
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

    def verify_key(self, key: str) -> ApiKey | None:
        """The key's row if it is ours and not revoked, else None."""
        lookup = split_key(key)
        if lookup is None:
            return None
        with self._database.session() as session:
            row = session.exec(select(ApiKey).where(ApiKey.lookup == lookup)).first()
        if row is None or row.revoked_at is not None or not matches(key, row.digest):
            return None
        return row
