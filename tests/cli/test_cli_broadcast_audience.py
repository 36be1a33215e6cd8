"""`journeys audience` on a broadcast: by default, the audience as of its own moment (when
the schedule will read it), not as of now."""

from __future__ import annotations

from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.store import Store


def test_a_broadcast_audience_is_read_as_of_its_moment(data: Store, shipped: None) -> None:
    data.customers.upsert("vip", attributes={"vip_optin": True})
    data.customers.upsert(
        "renewer", attributes={"renews_on": "2027-03-17", "subscription": "active"}
    )

    result = CliRunner().invoke(app, ["audience", "vip-private-sale"])

    assert result.exit_code == 0, result.output
    # Nobody is gold here: the line says which moment was read.
    assert result.output.rstrip().endswith(
        "0 customer(s) in the audience of vip-private-sale at 2027-03-03T18:00:00+00:00"
    )

    # Renewals: 14 days ahead of 3 March 2027 (UTC, the customer's zone).
    result = CliRunner().invoke(
        app, ["audience", "subscription-renewal", "--at", "2027-03-03T12:00:00+00:00"]
    )
    assert result.exit_code == 0, result.output
    assert "renewer" in result.output and "renews_on:2027-03-17" in result.output
