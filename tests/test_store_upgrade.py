"""Upgrading keeps data: a database made by the previous release (no loyalty tables, no
birthday or last_seen_at on customers) gains them on start, and its rows stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from journeys.store import Store
from tests.test_store import postgres_admin, postgres_schema  # noqa: F401 - fixture

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

    ana = store.get_customer("ana")
    assert ana is not None
    assert (ana["email"], ana["first_name"], ana["consent"]["email"], ana["birthday"]) == (
        "ana@example.com",
        "Ana",
        True,
        None,
    )
    store.upsert_customer("ana", birthday="1990-03-05")
    assert (store.get_customer("ana") or {})["birthday"] == "1990-03-05"
    schema = inspect(store.engine)
    assert {"points_lots", "points_entries", "purchases", "events", "audience_entries"} <= set(
        schema.get_table_names()
    )
    indexes = {index["name"] for index in schema.get_indexes("customers")}
    assert {"ix_customers_birth_month_day", "ix_customers_last_seen"} <= indexes
    store.engine.dispose()
