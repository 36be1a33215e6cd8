"""One process at a time creates or upgrades the store's tables.

Replicas start together (compose ``replicas``, a Helm rollout: two workers and two APIs
here), and each creates the schema at start. On PostgreSQL two concurrent ``CREATE TABLE``
of the same table fail the loser ("duplicate key value violates unique constraint
pg_type_typname_nsp_index") and the process dies; a session advisory lock queues them, so
the later ones find the tables there. SQLite needs none: its writer lock already queues.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Any fixed 64-bit number: the lock is database-wide, so it names this one purpose.
SCHEMA_LOCK = 0x6A6F75726E657973  # "journeys"


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})
            connection.commit()
