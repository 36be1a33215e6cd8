"""Signed unsubscribe tokens: round trip, forgery, and settings that say what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.delivery.unsubscribe import (
    InvalidUnsubscribeToken,
    UnsubscribeSettings,
    make_token,
    read_token,
    unsubscribe_url,
)
from journeys.process.settings import SettingsError

SECRET = "test-only-secret-0123456789abcdefghijklmnop"
SETTINGS = UnsubscribeSettings(secret_key=SECRET, public_url="https://journeys.example.com")


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("JOURNEYS_SECRET_KEY", raising=False)
    monkeypatch.delenv("JOURNEYS_PUBLIC_URL", raising=False)
    return monkeypatch


def test_url_round_trips_through_the_environment(no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv("JOURNEYS_SECRET_KEY", SECRET)
    no_env.setenv("JOURNEYS_PUBLIC_URL", "https://journeys.example.com/")

    url = unsubscribe_url("cust-42", "email", "marketing")

    prefix = "https://journeys.example.com/u/"
    assert url.startswith(prefix)
    token = url.removeprefix(prefix)
    assert "/" not in token and "=" not in token  # one URL path segment, no padding
    assert read_token(token) == ("cust-42", "email", "marketing")
    target = read_token(token)
    assert (target.customer_id, target.channel, target.purpose) == ("cust-42", "email", "marketing")


@pytest.mark.parametrize(
    "customer_id",
    ["a", "Chloé-Ünïcode", "id.with.dots/and/slashes", "x" * 200, '"[]{},:'],
)
def test_any_customer_id_round_trips(customer_id: str) -> None:
    token = make_token(customer_id, "sms", "transactional", settings=SETTINGS)
    assert read_token(token, settings=SETTINGS) == (customer_id, "sms", "transactional")


def test_tokens_are_deterministic_and_distinct_per_target() -> None:
    issued = datetime(2026, 3, 10, 12, 0, 0, 700_000, tzinfo=UTC)
    token = make_token("cust-1", "email", "marketing", settings=SETTINGS, issued_at=issued)
    same_second = issued.replace(microsecond=0)
    assert token == make_token(
        "cust-1", "email", "marketing", settings=SETTINGS, issued_at=same_second
    )
    others = {
        make_token("cust-2", "email", "marketing", settings=SETTINGS, issued_at=issued),
        make_token("cust-1", "sms", "marketing", settings=SETTINGS, issued_at=issued),
        make_token("cust-1", "email", "transactional", settings=SETTINGS, issued_at=issued),
        make_token(
            "cust-1", "email", "marketing", settings=SETTINGS, issued_at=issued + timedelta(0, 1)
        ),
    }
    assert token not in others and len(others) == 4


def test_public_url_path_prefix_is_kept() -> None:
    settings = UnsubscribeSettings(secret_key=SECRET, public_url="https://shop.example/mail/")
    url = unsubscribe_url("c", "email", "marketing", settings=settings)
    assert url.startswith("https://shop.example/mail/u/")


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_tampered_tokens_are_rejected() -> None:
    token = make_token("cust-1", "email", "marketing", settings=SETTINGS)
    payload, signature = token.split(".")
    other = make_token("cust-2", "email", "marketing", settings=SETTINGS)
    forged_elsewhere = make_token(
        "cust-1",
        "email",
        "marketing",
        settings=UnsubscribeSettings(secret_key="another-secret-" + "y" * 32),
    )
    bad = [
        _flip(token, 3),  # payload changed
        _flip(token, len(token) - 2),  # signature changed
        f"{other.split('.')[0]}.{signature}",  # someone else's payload, our signature
        f"{payload}.{other.split('.')[1]}",  # our payload, someone else's signature
        token[:-1],  # truncated
        token + "A",
        payload,  # no signature
        f"{payload}.",
        f".{signature}",
        "",
        "not-a-token",
        token.replace("-", "é", 1) if "-" in token else token + "é",  # non-ASCII
        "x" * 10_000 + "." + signature,
        forged_elsewhere,  # signed with another key
    ]
    for candidate in bad:
        with pytest.raises(InvalidUnsubscribeToken):
            read_token(candidate, settings=SETTINGS)


def test_invalid_token_is_not_a_settings_error() -> None:
    # The endpoint answers 400 to a bad link and 500 to a missing secret: keep them apart.
    assert not issubclass(InvalidUnsubscribeToken, SettingsError)


def test_missing_secret_is_a_clear_error(no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv("JOURNEYS_PUBLIC_URL", "https://journeys.example.com")
    for call in (
        lambda: unsubscribe_url("c", "email", "marketing"),
        lambda: make_token("c", "email", "marketing"),
        lambda: read_token("abc.def"),
    ):
        with pytest.raises(SettingsError, match="JOURNEYS_SECRET_KEY is not set"):
            call()
    no_env.setenv("JOURNEYS_SECRET_KEY", "")
    with pytest.raises(SettingsError, match="JOURNEYS_SECRET_KEY is not set"):
        make_token("c", "email", "marketing")


def test_weak_secret_is_refused(no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv("JOURNEYS_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="too short"):
        make_token("c", "email", "marketing")


def test_secret_is_not_printed() -> None:
    assert SECRET not in repr(SETTINGS) and SECRET not in str(SETTINGS.model_dump())


@pytest.mark.parametrize(
    "public_url", [None, "", "journeys.example.com", "ftp://x", "https://x/?a=1"]
)
def test_bad_public_url_is_a_clear_error(
    no_env: pytest.MonkeyPatch, public_url: str | None
) -> None:
    settings = UnsubscribeSettings(secret_key=SECRET, public_url=public_url)
    with pytest.raises(SettingsError, match="JOURNEYS_PUBLIC_URL"):
        unsubscribe_url("c", "email", "marketing", settings=settings)


@pytest.mark.parametrize("field", ["customer_id", "channel", "purpose"])
def test_empty_parts_are_refused(field: str) -> None:
    parts = {"customer_id": "c", "channel": "email", "purpose": "marketing", field: ""}
    with pytest.raises(ValueError, match=field):
        make_token(**parts, settings=SETTINGS)
