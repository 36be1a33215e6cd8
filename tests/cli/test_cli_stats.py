"""`journeys stats`: the funnel table a marketer reads, from the store's facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.store import Store
from journeys.store.tracking_tables import JourneyFact


def test_stats_prints_each_step_of_the_funnel(data: Store, shipped: None) -> None:
    now = datetime.now(UTC)
    for n, kind in enumerate(("entered", "waiting", "entered", "exited")):
        data.journeys.record_fact(
            JourneyFact(
                workflow_id=f"journey/abandoned-cart/c{n // 2}",
                entry_id=f"e{n // 2}",
                scenario_id="abandoned-cart",
                customer_id=f"c{n // 2}",
                kind=kind,
                step_id="wait-1" if kind == "waiting" else "",
                detail="exit on order.completed" if kind == "exited" else "",
                at=now,
            )
        )

    result = CliRunner().invoke(app, ["stats", "abandoned-cart"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert (
        "entered 2 · running 1 · completed 0 · exited exit on order.completed: 1" in result.output
    )
    assert "reminder" in result.output and "wait-for-order" in result.output
    unknown = CliRunner().invoke(app, ["stats", "nope"])
    assert unknown.exit_code == 1 and "no scenario 'nope'" in unknown.output


@pytest.mark.parametrize(
    ("prop", "why"),
    [
        ("total=NaN", "total: nan is not a number JSON can carry"),
        ("total=1e400", "total: inf is not a number JSON can carry"),
        ('note="a\\u0000b"', "note: contains a NUL character"),
    ],
)
def test_send_event_refuses_what_the_api_refuses_and_stores_nothing(
    data: Store, prop: str, why: str
) -> None:
    result = CliRunner().invoke(
        app, ["send-event", "cart.updated", "--customer", "c1", "--prop", prop]
    )

    assert result.exit_code == 2, result.output
    assert why in " ".join(result.output.split())  # rich wraps the panel's lines
    assert data.events.for_customer("c1") == []
