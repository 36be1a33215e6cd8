"""The referral rules of ``loyalty.yaml``: a bad cap names its line, and the shipped file
and the default agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys.authoring.validate_program import load_program
from journeys.loyalty.program import LoyaltyProgram

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value,message",
    [
        ("0", "Input should be greater than or equal to 1"),
        ("-3", "Input should be greater than or equal to 1"),
        ("ten", "Input should be a valid integer, unable to parse string as an integer"),
        ("2.5", "Input should be a valid integer, got a number with a fractional part"),
        ("1000000", "Input should be less than or equal to 100000"),
    ],
)
def test_a_bad_referral_cap_names_its_line(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text(f"purchase_event: purchase\nreferrals:\n  max_per_referrer: {value}\n")
    program, problems = load_program(path)
    assert program is None
    assert [str(p) for p in problems] == [f"{path}:3: referrals.max_per_referrer: {message}"]


def test_an_unknown_referral_setting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text("referrals:\n  max_per_friend: 3\n")
    _, problems = load_program(path)
    assert [str(p) for p in problems] == [
        f"{path}:2: referrals.max_per_friend: Extra inputs are not permitted"
    ]


def test_the_shipped_cap() -> None:
    program, problems = load_program(REPO / "loyalty.yaml")
    assert problems == [] and program is not None
    assert program.referrals.max_per_referrer == 10 == LoyaltyProgram().referrals.max_per_referrer
