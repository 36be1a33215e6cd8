"""Survey answer tokens: what a link carries, and every way one must be refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.delivery import unsubscribe
from journeys.delivery.signing import b64decode, b64encode
from journeys.delivery.surveys import (
    ExpiredSurveyToken,
    InvalidSurveyToken,
    SurveyAnswer,
    link_maker,
    make_token,
    read_token,
    survey_url,
)
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.process.settings import SettingsError

ISSUED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
KEY = "survey-test-key-0123456789abcdefghijklmnop"
OTHER_KEY = "another-survey-test-key-0123456789abcdefgh"
SETTINGS = UnsubscribeSettings(secret_key=KEY, public_url="https://shop.example/journeys/")


def token(score: int = 9, **settings: object) -> str:
    chosen = UnsubscribeSettings(**settings) if settings else SETTINGS
    return make_token("ana", "nps-survey", "entry-1", score, settings=chosen, issued_at=ISSUED)


def test_a_token_carries_who_answers_what_and_when() -> None:
    answer = read_token(token(9), settings=SETTINGS, now=ISSUED + timedelta(days=1))
    assert answer == SurveyAnswer("ana", "nps-survey", "entry-1", 9, ISSUED)
    assert token(9) == token(9)  # a retried render gives the same link
    assert token(9) != token(10)


def test_the_url_is_the_public_address_and_the_token() -> None:
    url = survey_url("ana", "nps-survey", "e", 0, settings=SETTINGS, issued_at=ISSUED)
    assert url.startswith("https://shop.example/journeys/s/")
    assert read_token(url.rpartition("/")[2], settings=SETTINGS, now=ISSUED).score == 0


@pytest.mark.parametrize("score", [-1, 11, 9.0, True, "9", None])
def test_a_score_off_the_scale_makes_no_link(score: object) -> None:
    with pytest.raises(ValueError, match="score must be a whole number from 0 to 10"):
        make_token("ana", "s", "e", score, settings=SETTINGS, issued_at=ISSUED)  # type: ignore[arg-type]


@pytest.mark.parametrize("survey", ["", "a\x00b", "x" * 201])
def test_a_bad_survey_name_makes_no_link(survey: str) -> None:
    with pytest.raises(ValueError, match="survey"):
        make_token("ana", survey, "e", 5, settings=SETTINGS, issued_at=ISSUED)


def test_a_tampered_token_is_refused() -> None:
    payload, _, signature = token(3).partition(".")
    raised = b64decode(payload).replace(b",3,", b",10,")
    assert raised != b64decode(payload)
    for forged in (
        f"{b64encode(raised)}.{signature}",  # the score changed, the signature kept
        f"{payload}.{signature[:-2]}",  # cut
        f"{payload}{signature}",  # no dot
        f"{payload}.{signature}x",
        "not a token",
        "é.é",
        "a" * 5000,
    ):
        with pytest.raises(InvalidSurveyToken):
            read_token(forged, settings=SETTINGS, now=ISSUED)


def test_an_unsubscribe_token_is_no_answer_and_an_answer_is_no_unsubscribe() -> None:
    opt_out = unsubscribe.make_token("ana", "email", "marketing", settings=SETTINGS)
    with pytest.raises(InvalidSurveyToken):
        read_token(opt_out, settings=SETTINGS, now=ISSUED)
    with pytest.raises(unsubscribe.InvalidUnsubscribeToken):
        unsubscribe.read_token(token(9), settings=SETTINGS, now=ISSUED)


def test_a_token_of_another_key_is_refused() -> None:
    other = token(9, secret_key=OTHER_KEY, public_url="https://x.example")
    with pytest.raises(InvalidSurveyToken):
        read_token(other, settings=SETTINGS, now=ISSUED)


def test_after_a_rotation_links_signed_with_the_previous_key_still_work() -> None:
    old_link = token(7, secret_key=OTHER_KEY)
    rotated = UnsubscribeSettings(secret_key=KEY, previous_secret_keys=f" {OTHER_KEY} ")
    assert read_token(old_link, settings=rotated, now=ISSUED).score == 7
    # ...until the previous key is dropped
    with pytest.raises(InvalidSurveyToken):
        read_token(old_link, settings=UnsubscribeSettings(secret_key=KEY), now=ISSUED)


def test_a_token_past_its_lifetime_is_expired_and_names_its_answer() -> None:
    days = SETTINGS.survey_token_days
    assert days == 90
    assert read_token(token(), settings=SETTINGS, now=ISSUED + timedelta(days=days)).score == 9
    with pytest.raises(ExpiredSurveyToken) as expired:
        read_token(token(), settings=SETTINGS, now=ISSUED + timedelta(days=days, seconds=1))
    assert expired.value.answer.customer_id == "ana"
    shorter = UnsubscribeSettings(secret_key=KEY, survey_token_days=2)
    with pytest.raises(ExpiredSurveyToken):
        read_token(token(), settings=shorter, now=ISSUED + timedelta(days=3))


def test_the_lifetime_comes_from_the_environment_and_a_bad_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_SURVEY_TOKEN_DAYS", "30")
    assert UnsubscribeSettings().survey_lifetime == timedelta(days=30)
    monkeypatch.setenv("JOURNEYS_SURVEY_TOKEN_DAYS", "0")
    with pytest.raises(SettingsError, match="JOURNEYS_SURVEY_TOKEN_DAYS"):
        UnsubscribeSettings()


def test_no_secret_key_is_a_settings_error_not_a_bad_link() -> None:
    with pytest.raises(SettingsError, match="JOURNEYS_SECRET_KEY"):
        read_token(token(), settings=UnsubscribeSettings(secret_key=None), now=ISSUED)


def test_the_template_function_defaults_the_survey_and_reads_settings_only_when_called() -> None:
    calls: list[int] = []

    def settings() -> UnsubscribeSettings:
        calls.append(1)
        return SETTINGS

    make = link_maker(settings, "ana", "nps-survey", "entry-1", ISSUED)
    assert calls == []
    default = read_token(make(10).rpartition("/")[2], settings=SETTINGS, now=ISSUED)
    named = read_token(make(4, survey="q1-nps").rpartition("/")[2], settings=SETTINGS, now=ISSUED)
    assert (default.survey, default.score) == ("nps-survey", 10)
    assert (named.survey, named.score, named.entry) == ("q1-nps", 4, "entry-1")
    assert calls == [1, 1]
