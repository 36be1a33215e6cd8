"""Engines for the store: one pool per URL, SQLite tuned for a worker, additive upgrades,
and the ``Database`` every part of the store opens its transactions through."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

# Below the local activities' 30 s start-to-close timeout: a write stuck behind a lock fails
# (and is retried) before Temporal gives up on the attempt while its thread still runs.
BUSY_TIMEOUT_SECONDS = 10

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; the busy timeout makes writers queue, not fail."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def engine_for(url: str) -> Engine:
    """One engine (one connection pool) per URL per process, however many ``Store``s exist."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


_sqlite_locks: dict[Engine, threading.Lock] = {}


def writer_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """SQLite: one transaction at a time per process, queued on a Python lock.

    SQLite allows one writer; under contention its busy handler *sleeps* and retries, which
    measured ~5x slower than queueing here (bench/delivery.py). Other processes (a second
    worker, the API) still meet the busy timeout. PostgreSQL needs no such thing.
    """
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    with _engines_lock:
        return _sqlite_locks.setdefault(engine, threading.Lock())


class Database:
    """The one engine the store's parts share, and the ways they open a transaction.

    Every transaction is short and self-contained (activities call the parts through
    ``asyncio.to_thread``), and on SQLite each one first queues on ``writer_lock``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection (commit as you go; what is not committed is rolled back)."""
        with writer_lock(self.engine), self.engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        # Rows stay readable after commit: callers get plain, detached objects.
        with writer_lock(self.engine), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a long read (a KPI report: seconds at 100,000 customers) that
        does not queue on the SQLite writer lock, so it never holds up the journeys'
        writes in this process; WAL lets it read beside them. Never write through it."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(url, connect_args=args, poolclass=StaticPool)
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args=args)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def add_missing_columns(engine: Engine) -> None:
    """Adds columns a newer version declares to tables an older version created.

    ``create_all`` skips existing tables, so without this a database from before a new
    column (e.g. ``deliveries.recipient``) would fail on every read. Only nullable columns
    can be added to rows that already exist; anything else needs a real migration. Missing
    indexes are created too.
    """
    existing = inspect(engine)
    tables = set(existing.get_table_names())
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in tables:
                continue
            present = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                if not column.nullable:
                    raise RuntimeError(
                        f"table {table.name} lacks the required column {column.name}: "
                        "this database needs a migration"
                    )
                kind = column.type.compile(dialect=engine.dialect)
                connection.exec_driver_sql(
                    f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"
                )
            # Indexes declared since the table was created (e.g. on a column added above).
            named = {index["name"] for index in existing.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in named:
                    index.create(connection)
