"""Survey answers as data: the ``nps.answered`` event, its score scale and its id.

Stated once, because three parts meet here: templates render answer links (``survey_url``),
the API records the answer, and the KPIs read the event back. The event carries
``score`` (an int 0-10), ``survey`` (text), ``entry`` (the journey entry that asked) and,
when the customer wrote one, ``comment`` (text).

One answer counts per survey invitation: the event id is derived from (survey, entry,
customer), so a second post of the same link, or of another score's link from the same
message (or from its reminder), is a duplicate of a stored event and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re

NPS_EVENT = "nps.answered"
MIN_SCORE = 0
MAX_SCORE = 10
MAX_SURVEY_NAME = 200
MAX_COMMENT = 2000
# A survey is named by its scenario's id unless a template names it: the API's id rule
# (1-200 characters, no control characters), since any scenario id may become one.
SURVEY_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
_SURVEY_NAME = re.compile(SURVEY_NAME_PATTERN)
# Control characters other than tab, newline and carriage return have no place in a
# comment (a NUL is refused by PostgreSQL besides).
_COMMENT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def score_problem(score: object) -> str | None:
    """Why ``score`` is not an answer on the 0-10 scale, or None."""
    if type(score) is not int or not MIN_SCORE <= score <= MAX_SCORE:
        return f"score must be a whole number from {MIN_SCORE} to {MAX_SCORE}, not {score!r:.40}"
    return None


def survey_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a survey, or None."""
    if not isinstance(name, str) or not name:
        return f"survey must be a non-empty text, not {name!r:.40}"
    if len(name) > MAX_SURVEY_NAME or not _SURVEY_NAME.match(name):
        return f"survey {name!r:.60} must be 1-{MAX_SURVEY_NAME} characters, no control characters"
    return None


def comment_problem(comment: str) -> str | None:
    """Why a customer's comment cannot be stored, or None."""
    if len(comment) > MAX_COMMENT:
        return f"at most {MAX_COMMENT} characters ({len(comment)} sent)"
    if _COMMENT_CONTROL.search(comment):
        return "control characters are not allowed (tab and new lines are)"
    return None


def answer_event_id(survey: str, entry: str, customer_id: str) -> str:
    """The ``nps.answered`` event id of one invitation: the same for every score's link.

    A digest, so it stays within the API's 200 characters whatever the ids are, and the
    parts are JSON-encoded before hashing so no two triples share an id.
    """
    raw = json.dumps([survey, entry, customer_id], ensure_ascii=False, separators=(",", ":"))
    return "nps:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]
