"""Upgrading keeps data: a database made by the previous release (no loyalty tables, no
birthday or last_seen_at on customers) gains them on start, and its rows stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from journeys.store import Store
from tests.databases import postgres_schema

# The customers table as the previous release created it.
OLD_CUSTOMERS = """
CREATE TABLE customers (
    id VARCHAR NOT NULL PRIMARY KEY,
    email VARCHAR, phone VARCHAR, push_token VARCHAR,
    locale VARCHAR NOT NULL, time_zone VARCHAR NOT NULL,
    consent JSON, attributes JSON,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL
)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_admin")) as url:
        yield url


def test_an_old_database_gains_the_new_tables_and_columns_and_keeps_its_rows(
    old_database: str,
) -> None:
    store = Store(old_database)
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with store.engine.begin() as connection:
        connection.execute(text(OLD_CUSTOMERS))
        connection.execute(
            text(
                "INSERT INTO customers VALUES ('ana', 'ana@example.com', NULL, NULL, 'fr', "
                "'Europe/Paris', :consent, :attributes, :now, :now)"
            ),
            {"consent": '{"email": true}', "attributes": '{"first_name": "Ana"}', "now": now},
        )

    store.create_schema()
    store.create_schema()  # a second start changes nothing

    ana = store.customers.get("ana")
    assert ana is not None
    assert (ana["email"], ana["first_name"], ana["consent"]["email"], ana["birthday"]) == (
        "ana@example.com",
        "Ana",
        True,
        None,
    )
    store.customers.upsert("ana", birthday="1990-03-05")
    assert (store.customers.get("ana") or {})["birthday"] == "1990-03-05"
    schema = inspect(store.engine)
    assert {"points_lots", "points_entries", "purchases", "events", "audience_entries"} <= set(
        schema.get_table_names()
    )
    indexes = {index["name"] for index in schema.get_indexes("customers")}
    assert {"ix_customers_birth_month_day", "ix_customers_last_seen"} <= indexes
    store.engine.dispose()


# The event log as the release before dead letters created it (no failed_at, no failure).
OLD_EVENTS = """
CREATE TABLE events (
    id VARCHAR NOT NULL PRIMARY KEY,
    customer_id VARCHAR NOT NULL, name VARCHAR NOT NULL, properties JSON,
    occurred_at TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL,
    routed_at TIMESTAMP, claimed_until TIMESTAMP, claimed_by VARCHAR
)
"""


def test_an_old_event_log_gains_the_dead_letter_columns_and_keeps_its_backlog(
    old_database: str,
) -> None:
    store = Store(old_database)
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with store.engine.begin() as connection:
        connection.execute(text(OLD_EVENTS))
        for event_id in ("old-1", "old-2"):
            connection.execute(
                text(
                    "INSERT INTO events (id, customer_id, name, properties, occurred_at, "
                    "received_at) VALUES (:id, 'ana', 'cart.updated', '{}', :now, :now)"
                ),
                {"id": event_id, "now": now},
            )

    store.create_schema()
    store.create_schema()

    assert [e.id for e in store.events.pending()] == ["old-1", "old-2"]  # still to route
    store.events.mark_failed({"old-1": "Temporal refused it: Blob data size exceeds limit."})
    assert [e.id for e, _ in store.events.claim()] == ["old-2"]
    assert [(r.id, r.failure) for r in store.events.failed()] == [
        ("old-1", "Temporal refused it: Blob data size exceeds limit.")
    ]
    assert "ix_events_failed" in {i["name"] for i in inspect(store.engine).get_indexes("events")}
    assert store.events.retry_failed(["old-1"]) == 1
    assert store.events.failed_count() == 0
    store.engine.dispose()
