"""Unsubscribe tokens: their lifetime, key rotation, and links sent before issue times.

Every moment is pinned (``issued_at``, ``now``): nothing depends on when the suite runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.delivery.unsubscribe import (
    ExpiredUnsubscribeToken,
    InvalidUnsubscribeToken,
    UnsubscribeSettings,
    make_token,
    read_token,
)
from journeys.process.settings import SettingsError

REPO = Path(__file__).resolve().parents[2]
KEY = "test-only-secret-0123456789abcdefghijklmnop"
OLD_KEY = "the-previous-secret-0123456789abcdefghij"
SETTINGS = UnsubscribeSettings(secret_key=KEY)
ISSUED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
# Made by the previous version's make_token ("cust-42", "email", "marketing"), with KEY and
# with OLD_KEY: links in mails already sent, which carry no issue time.
LEGACY = "WyJjdXN0LTQyIiwiZW1haWwiLCJtYXJrZXRpbmciXQ.xtC7bABr6Y_s4ofiwZTQ66L3baQDdp8i3lURny1_B5w"
LEGACY_OLD_KEY = (
    "WyJjdXN0LTQyIiwiZW1haWwiLCJtYXJrZXRpbmciXQ.0uYp_viBeXVU2XSM0EsMidWoq_wJ2MhnDaaq6xPB3gY"
)
TARGET = ("cust-42", "email", "marketing")


def token(settings: UnsubscribeSettings = SETTINGS, issued: datetime = ISSUED) -> str:
    return make_token(*TARGET, settings=settings, issued_at=issued)


def test_a_token_works_for_a_year_and_then_expires() -> None:
    made = token()
    for age in (timedelta(0), timedelta(days=30), timedelta(days=365)):
        assert read_token(made, settings=SETTINGS, now=ISSUED + age) == TARGET
    with pytest.raises(ExpiredUnsubscribeToken) as expired:
        read_token(made, settings=SETTINGS, now=ISSUED + timedelta(days=365, seconds=1))
    assert expired.value.target == TARGET  # genuine: who it names is known
    assert expired.value.issued_at == ISSUED
    assert isinstance(expired.value, InvalidUnsubscribeToken)  # refused by older callers too


def test_the_lifetime_is_a_setting_never_below_thirty_days() -> None:
    short = UnsubscribeSettings(secret_key=KEY, unsubscribe_token_days=30)
    made = token(short)
    assert read_token(made, settings=short, now=ISSUED + timedelta(days=30)) == TARGET
    with pytest.raises(ExpiredUnsubscribeToken):
        read_token(made, settings=short, now=ISSUED + timedelta(days=31))
    with pytest.raises(SettingsError, match=r"JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS=29: .*30"):
        UnsubscribeSettings(secret_key=KEY, unsubscribe_token_days=29)


def test_bad_lifetime_settings_from_the_environment_name_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS", "a year")
    monkeypatch.setenv("JOURNEYS_UNSUBSCRIBE_LEGACY_UNTIL", "soon")
    with pytest.raises(SettingsError) as refused:
        UnsubscribeSettings()
    assert "JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS='a year'" in str(refused.value)
    assert "JOURNEYS_UNSUBSCRIBE_LEGACY_UNTIL='soon'" in str(refused.value)


def test_after_a_rotation_links_signed_with_the_previous_key_keep_working() -> None:
    before = UnsubscribeSettings(secret_key=OLD_KEY)
    sent_before = token(before)
    rotated = UnsubscribeSettings(
        secret_key=KEY, previous_secret_keys=f" another-retired-key-0123456789abcdef , {OLD_KEY}"
    )
    later = ISSUED + timedelta(days=200)
    assert read_token(sent_before, settings=rotated, now=later) == TARGET
    # New links are signed with the new key only: they verify without the previous one.
    assert read_token(token(rotated, later), settings=SETTINGS, now=later) == TARGET
    # An old link still expires on its own date: the grace ends one lifetime after rotation.
    with pytest.raises(ExpiredUnsubscribeToken):
        read_token(sent_before, settings=rotated, now=ISSUED + timedelta(days=366))
    # Once the previous key is removed, its links are not ours any more.
    with pytest.raises(InvalidUnsubscribeToken) as refused:
        read_token(sent_before, settings=SETTINGS, now=later)
    assert not isinstance(refused.value, ExpiredUnsubscribeToken)


def test_a_weak_previous_key_stops_the_start_without_being_shown() -> None:
    with pytest.raises(SettingsError) as refused:
        UnsubscribeSettings(secret_key=KEY, previous_secret_keys=f"{OLD_KEY},short-one")
    assert "JOURNEYS_PREVIOUS_SECRET_KEYS=***" in str(refused.value)
    assert "a key of 9 characters" in str(refused.value)
    assert OLD_KEY not in str(refused.value)


def test_links_sent_before_issue_times_keep_working_until_the_transition_ends() -> None:
    assert read_token(LEGACY, settings=SETTINGS, now=ISSUED + timedelta(days=2000)) == TARGET
    rotated = UnsubscribeSettings(secret_key=KEY, previous_secret_keys=OLD_KEY)
    assert read_token(LEGACY_OLD_KEY, settings=rotated, now=ISSUED) == TARGET
    ending = UnsubscribeSettings(secret_key=KEY, unsubscribe_legacy_until=date(2027, 6, 30))
    last_day = datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert read_token(LEGACY, settings=ending, now=last_day) == TARGET
    with pytest.raises(ExpiredUnsubscribeToken) as expired:
        read_token(LEGACY, settings=ending, now=last_day + timedelta(seconds=1))
    assert (expired.value.target, expired.value.issued_at) == (TARGET, None)
    # The transition covers old links only: a current one keeps its own lifetime.
    assert read_token(token(ending, last_day), settings=ending, now=last_day) == TARGET


def test_the_two_formats_cannot_pass_for_each_other() -> None:
    legacy_payload, _, legacy_signature = LEGACY.partition(".")
    current_payload, _, current_signature = token().partition(".")
    for forged in (
        f"{legacy_payload}.{current_signature}",
        f"{current_payload}.{legacy_signature}",
        f"{legacy_payload}.{legacy_signature[:-1]}A",
    ):
        with pytest.raises(InvalidUnsubscribeToken) as refused:
            read_token(forged, settings=SETTINGS, now=ISSUED)
        assert not isinstance(refused.value, ExpiredUnsubscribeToken)


async def test_a_worker_with_a_bad_lifetime_stops_with_one_line(
    temporal: WorkflowEnvironment,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TEMPORAL_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        JOURNEYS_TASK_QUEUE="journeys-bad-lifetime",
        JOURNEYS_EMAIL_PROVIDER="smtp",
        JOURNEYS_SMTP_HOST="127.0.0.1",
        JOURNEYS_SMTP_FROM_ADDRESS="club@shop.example",
        JOURNEYS_SECRET_KEY=KEY,
        JOURNEYS_PUBLIC_URL="https://journeys.example.com",
        JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS="5",
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 1, output.decode()
    assert b"bad setting: JOURNEYS_UNSUBSCRIBE_TOKEN_DAYS='5': Input should be greater" in output
    assert b"Traceback" not in output
