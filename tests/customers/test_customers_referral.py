"""``journeys customers show``: the customer's referral code (made on first ask, then the
same) and who they referred."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.customers.profiles import identify
from journeys.store import Store


def show(*args: str) -> str:
    result = CliRunner().invoke(app, ["customers", "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_show_gives_the_referral_code_and_counts(data: Store) -> None:
    identify(data, "ana", {"email": "ana@example.com"}, source="app")
    report = json.loads(show("ana", "--json"))
    code = report["referral"]["code"]
    assert report["referral"] == {
        "code": code,
        "referred": 0,
        "completed": 0,
        "referred_by": None,
    }
    data.referrals.record(code, "bob", max_per_referrer=10)

    assert json.loads(show("ana", "--json"))["referral"]["referred"] == 1
    assert json.loads(show("bob", "--json"))["referral"]["referred_by"] == "ana"
    assert re.search(rf"│ code\s+│ {code}\s+│", show("ana")), "the table shows the same code"
