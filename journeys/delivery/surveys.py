"""Signed survey answer links: one link per score, so one click carries the answer.

A token names who answers which survey, for which journey entry, with which score, and
when the link was made: ``(customer_id, survey, entry, score, issued_at)``. Its shape is the
unsubscribe token's (``journeys.delivery.unsubscribe``): ``<payload>.<signature>``, the
payload the URL-safe base64 of the JSON list, the signature HMAC-SHA256 under the context
``journeys-survey-v1.`` (``journeys.delivery.signing``), so an unsubscribe token never
passes as an answer nor the other way round. Same key (``JOURNEYS_SECRET_KEY``), same
rotation (``JOURNEYS_PREVIOUS_SECRET_KEYS`` still verify), same public URL.

**Lifetime: 90 days by default** (``JOURNEYS_SURVEY_TOKEN_DAYS``, 1 to 3653). Shorter than an
unsubscribe link: no law asks an answer link to work, and an answer months later says
little about the order it was about; long enough that a customer back from holiday can
still answer (the journey's follow-up may be over by then, but the answer still counts in
the KPIs). An expired link records nothing.

Links are made when a message renders, with the journey's own clock as issue time, so a
retried render gives the very same links. The link is ``<JOURNEYS_PUBLIC_URL>/s/<token>``;
the page behind it (``journeys.api.surveys``) records nothing on GET.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from journeys.delivery.signing import b64decode, b64encode, sign, verifies
from journeys.delivery.unsubscribe import MAX_TOKEN_LENGTH, UnsubscribeSettings
from journeys.model.surveys import score_problem, survey_name_problem

_CONTEXT = b"journeys-survey-v1."
PATH = "/s/"


class SurveyAnswer(NamedTuple):
    """What one answer link says: this customer gives this score to this survey."""

    customer_id: str
    survey: str
    entry: str
    score: int
    issued_at: datetime


class InvalidSurveyToken(ValueError):
    """Not made with our key (tampered, cut, from elsewhere)."""


class ExpiredSurveyToken(InvalidSurveyToken):
    """A genuine link past its lifetime: it records nothing."""

    def __init__(self, answer: SurveyAnswer) -> None:
        super().__init__(f"survey link issued {answer.issued_at.date().isoformat()} has expired")
        self.answer = answer


def make_token(
    customer_id: str,
    survey: str,
    entry: str,
    score: int,
    *,
    settings: UnsubscribeSettings,
    issued_at: datetime,
) -> str:
    """The signed token of one score's link (same inputs, same token)."""
    for name, value in (("customer_id", customer_id), ("entry", entry)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"survey link: {name} must be a non-empty string")
    if problem := survey_name_problem(survey) or score_problem(score):
        raise ValueError(f"survey link: {problem}")
    key = settings.key()
    issued = int(issued_at.timestamp())
    raw = json.dumps(
        [customer_id, survey, entry, score, issued], ensure_ascii=False, separators=(",", ":")
    )
    payload = b64encode(raw.encode("utf-8"))
    return f"{payload}.{sign(key, _CONTEXT, payload)}"


def read_token(
    token: str, *, settings: UnsubscribeSettings, now: datetime | None = None
) -> SurveyAnswer:
    """The answer a token carries.

    ``InvalidSurveyToken`` if it is not ours; ``ExpiredSurveyToken`` (a subclass) if it is
    ours and older than ``JOURNEYS_SURVEY_TOKEN_DAYS`` at ``now``. A missing or weak secret
    raises ``SettingsError`` (a server problem, not a bad link).
    """
    keys = settings.verifying_keys()
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidSurveyToken("survey token is malformed")
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidSurveyToken("survey token is malformed")
    if not verifies(keys, _CONTEXT, payload, signature):
        raise InvalidSurveyToken("survey token has a bad signature")
    answer = _payload(payload)
    if (now or datetime.now(UTC)) - answer.issued_at > settings.survey_lifetime:
        raise ExpiredSurveyToken(answer)
    return answer


def _payload(payload: str) -> SurveyAnswer:
    try:
        values = json.loads(b64decode(payload).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError) as err:
        # Only reachable with a valid signature over garbage, i.e. never from make_token.
        raise InvalidSurveyToken("survey token payload is unreadable") from err
    if not (
        isinstance(values, list)
        and len(values) == 5
        and all(isinstance(value, str) and value for value in values[:3])
        and survey_name_problem(values[1]) is None
        and score_problem(values[3]) is None
        and type(values[4]) is int
        and 0 <= values[4] < 2**37
    ):
        raise InvalidSurveyToken("survey token payload is unreadable")
    customer_id, survey, entry, score, issued = values
    return SurveyAnswer(customer_id, survey, entry, score, datetime.fromtimestamp(issued, UTC))


def survey_url(
    customer_id: str,
    survey: str,
    entry: str,
    score: int,
    *,
    settings: UnsubscribeSettings,
    issued_at: datetime,
) -> str:
    """``<JOURNEYS_PUBLIC_URL>/s/<token>``: the link that answers ``score``."""
    base = settings.base_url()  # checked first: a missing URL is the likelier mistake
    token = make_token(customer_id, survey, entry, score, settings=settings, issued_at=issued_at)
    return f"{base}{PATH}{token}"


SurveyUrl = Callable[..., str]


def link_maker(
    settings: Callable[[], UnsubscribeSettings],
    customer_id: str,
    default_survey: str,
    entry: str,
    issued_at: datetime,
) -> SurveyUrl:
    """The ``survey_url(score, survey=None)`` a message's templates call.

    ``survey`` defaults to the scenario's id; name one to pool the answers of several
    scenarios into one survey. ``settings`` is called only when a link is made, so a
    worker without a secret key fails only the messages that carry survey links.
    """

    def make(score: int, survey: str | None = None) -> str:
        return survey_url(
            customer_id,
            default_survey if survey is None else survey,
            entry,
            score,
            settings=settings(),
            issued_at=issued_at,
        )

    return make
