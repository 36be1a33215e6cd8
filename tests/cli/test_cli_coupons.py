"""`journeys coupons`: importing a pool (checked whole, each problem at file:line, nothing
written with any; a re-import adds nothing) and listing a customer's coupons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from journeys.cli.main import app
from journeys.store import Store
from journeys.store.coupons import Issue, Worth


def coupons(*args: str) -> Result:
    return CliRunner().invoke(app, ["coupons", *args])


def test_a_file_with_problems_imports_nothing(data: Store, tmp_path: Path) -> None:
    file = tmp_path / "codes.csv"
    file.write_text("code\nsummer-aa11\nSUMMER-BB22\n\nsummer-aa11\nx!\n")

    result = coupons("import", str(file), "--pool", "summer")

    assert result.exit_code == 1
    assert f"{file}:5: 'SUMMER-AA11' is also on line 2" in result.output
    assert f"{file}:6: 'X!' is not a coupon code" in result.output
    assert "nothing was imported" in result.output
    assert data.coupons.pool_counts("summer") == (0, 0)


def test_importing_again_adds_nothing_and_another_pool_cannot_take_the_codes(
    data: Store, tmp_path: Path
) -> None:
    file = tmp_path / "codes.txt"
    file.write_text("SUMMER-AA11\nsummer-bb22\n")

    first = coupons("import", str(file), "--pool", "summer")
    again = coupons("import", str(file), "--pool", "summer")
    other = coupons("import", str(file), "--pool", "winter")

    assert first.exit_code == again.exit_code == 0, first.output
    assert "2 code(s) added, 0 already there" in first.output
    assert "0 code(s) added, 2 already there; 2 in the pool, 2 unused" in again.output
    assert other.exit_code == 1
    assert f"{file}:2: 'SUMMER-BB22' is already in pool 'summer'" in other.output
    assert data.coupons.pool_counts("winter") == (0, 0)
    assert coupons("import", str(file), "--pool", "no spaces").exit_code == 1


def test_list_shows_the_customers_coupons(data: Store) -> None:
    at = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
    coupon, _ = data.coupons.issue(
        Issue(
            source_ref="ref-1",
            customer_id="ana",
            offer="winback-15",
            worth=Worth(kind="percent", percent=15),
            valid_for=timedelta(days=30),
            at=at,
        )
    )
    assert coupon is not None

    result = coupons("list", "--customer", "ana")

    assert result.exit_code == 0, result.output
    assert coupon.code in result.output and "winback-15" in result.output
    assert "15%" in result.output and "2027-05-31" in result.output
    assert "no coupons" in coupons("list", "--customer", "nobody").output
