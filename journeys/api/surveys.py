"""``/s/{token}``: the signed answer links of surveys (NPS: one link per score, 0 to 10).

* ``GET`` shows "You chose 9" with an optional comment box and a button, and records
  nothing: mail security scanners (Outlook Safe Links, corporate gateways) and link
  previewers fetch every link of a message, and would otherwise answer 0 to 10 at once.
* ``POST`` (the page's form, ``application/x-www-form-urlencoded``, one optional field
  ``comment``) records the answer as an ``nps.answered`` event in the event log, routed to
  journeys by the relay like any event (``journeys.model.surveys`` for its shape).

The signed token is the credential: no cookie, no session, so there is nothing for a
cross-site request to ride on; the form carries no secret beyond its own URL. **The first
answer counts**: the event id comes from (survey, entry, customer), so posting again, or
posting another score's link of the same message or of its reminder, stores nothing and
says so. Replacing the answer was the alternative, refused: the event has been routed,
and the journey has already sent the promoter's or the detractor's follow-up on it.

A token that is not ours gets a 400 sentence, a genuine one past its lifetime a 410 page;
both record nothing. A bad body gets a 422 naming the field (or a 415 for another
content type) and records nothing. Pages follow the customer's locale (English, French).
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from journeys.api.errors import SafeJSONResponse
from journeys.api.responses import html as html_answer
from journeys.api.responses import json_detail, text
from journeys.api.state import ApiState, api_state
from journeys.api.unsubscribe import HEADERS
from journeys.delivery.surveys import (
    ExpiredSurveyToken,
    InvalidSurveyToken,
    SurveyAnswer,
    read_token,
)
from journeys.delivery.unsubscribe import MAX_TOKEN_LENGTH
from journeys.model.events import Event
from journeys.model.surveys import MAX_COMMENT, NPS_EVENT, answer_event_id, comment_problem
from journeys.process.clock import utcnow
from journeys.process.metrics import EVENTS_ACCEPTED
from journeys.process.settings import SettingsError

log = logging.getLogger("journeys.api.surveys")
router = APIRouter(tags=["surveys"])
State = Annotated[ApiState, Depends(api_state)]
Token = Annotated[
    str,
    Path(
        max_length=MAX_TOKEN_LENGTH,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The signed token of the link (URL-safe base64 parts and a dot)",
    ),
]
FORM = "application/x-www-form-urlencoded"
INVALID = (
    "This survey link is not valid: it may have been cut or changed. "
    "Use the link from the message itself.\n"
)
UNAVAILABLE = "Survey links cannot be checked right now. Please try again later.\n"

_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: text("The link is not ours (tampered, cut); nothing recorded"),
    410: html_answer(
        "A genuine link past its lifetime (JOURNEYS_SURVEY_TOKEN_DAYS); nothing recorded"
    ),
    503: text("Survey links cannot be checked (server configuration)"),
}
_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "comment": {
                            "type": "string",
                            "maxLength": MAX_COMMENT,
                            "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
                            "description": "What the customer adds, optional",
                        }
                    },
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.get(
    "/s/{token}",
    response_class=HTMLResponse,
    summary="Survey answer page: shows the score, records nothing",
    responses=_REFUSALS,
)
async def confirm(token: Token, state: State) -> Response:
    answer = await _answer(token, state)
    if isinstance(answer, Response):
        return answer
    words = await _words(state, answer.customer_id)
    event_id = answer_event_id(answer.survey, answer.entry, answer.customer_id)
    if await asyncio.to_thread(state.store.events.recorded, event_id):
        return _page(words, words["title_done"], f"<p>{words['already']}</p>")
    body = (
        f"<p>{words['chose'].format(score=answer.score)}</p>"
        '<form method="post">'
        f'<label for="comment">{words["comment"]}</label>'
        f'<textarea id="comment" name="comment" rows="4" maxlength="{MAX_COMMENT}"></textarea>'
        f'<button type="submit">{words["send"]}</button></form>'
        f"<p class=note>{words['other']}</p>"
    )
    return _page(words, words["title"], body)


@router.post(
    "/s/{token}",
    response_class=HTMLResponse,
    summary="Record a survey answer (the answer page's form)",
    responses={
        **_REFUSALS,
        413: json_detail("The body is over the limit; nothing was read or recorded"),
        415: text("The body is not application/x-www-form-urlencoded; nothing recorded"),
    },
    openapi_extra=_BODY,
)
async def answer(token: Token, request: Request, state: State) -> Response:
    found = await _answer(token, state)
    if isinstance(found, Response):
        return found
    form = _form(await request.body(), request.headers.get("content-type", ""))
    if isinstance(form, Response):
        return form
    properties: dict[str, Any] = {
        "score": found.score,
        "survey": found.survey,
        "entry": found.entry,
    }
    if form:
        properties["comment"] = form
    event = Event(
        id=answer_event_id(found.survey, found.entry, found.customer_id),
        name=NPS_EVENT,
        customer_id=found.customer_id,
        properties=properties,
        occurred_at=utcnow(),
    )
    fresh = await asyncio.to_thread(state.store.events.record, event)
    EVENTS_ACCEPTED.labels(endpoint="survey", duplicate=str(not fresh).lower()).inc()
    if fresh and state.relay is not None:
        state.relay.kick()
    words = await _words(state, found.customer_id)
    if not fresh:
        return _page(words, words["title_done"], f"<p>{words['already']}</p>")
    log.info("survey %s answered %d by customer %s", found.survey, found.score, found.customer_id)
    return _page(words, words["title_done"], f"<p>{words['thanks'].format(score=found.score)}</p>")


async def _answer(token: str, state: ApiState) -> SurveyAnswer | Response:
    """The answer a link carries, or the response that says why it records nothing."""
    try:
        return read_token(token, settings=state.unsubscribe)
    except ExpiredSurveyToken as expired:
        log.info("expired survey link of customer %s refused", expired.answer.customer_id)
        words = await _words(state, expired.answer.customer_id)
        page = _page(words, words["title_expired"], f"<p>{words['expired']}</p>")
        page.status_code = 410
        return page
    except InvalidSurveyToken:
        return PlainTextResponse(INVALID, status_code=400, headers=HEADERS)
    except SettingsError as err:  # a server problem, not the customer's
        log.error("cannot check survey links: %s", err)
        return PlainTextResponse(UNAVAILABLE, status_code=503, headers=HEADERS)


def _form(body: bytes, content_type: str) -> str | Response | None:
    """The comment of the posted form (None: none written), or the 4xx naming what is wrong.

    Read by hand, as the form has one field: no multipart parser is needed for it.
    """
    if not body:
        return None
    if content_type.split(";")[0].strip().lower() != FORM:
        message = f"send the answer form as {FORM}\n"
        return PlainTextResponse(message, status_code=415, headers=HEADERS)
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=20
        )
    except UnicodeDecodeError:
        return _invalid(["body"], "the form is not percent-encoded UTF-8")
    except ValueError:
        return _invalid(["body"], "the form has too many fields (one: comment)")
    comment: str | None = None
    for name, value in pairs:
        if name != "comment":
            return _invalid(["body", name], "unknown field (the form has one: comment)")
        if comment is not None:
            return _invalid(["body", "comment"], "given more than once")
        if problem := comment_problem(value):
            return _invalid(["body", "comment"], problem)
        comment = value
    comment = (comment or "").strip()
    return comment or None


def _invalid(loc: list[str], message: str) -> Response:
    detail = [{"type": "value_error", "loc": loc, "msg": message}]
    return SafeJSONResponse({"detail": detail}, status_code=422, headers=HEADERS)


async def _words(state: ApiState, customer_id: str) -> dict[str, str]:
    """The page's sentences in the customer's language (English unless French)."""
    customer = await asyncio.to_thread(state.store.customers.get, customer_id)
    locale = str((customer or {}).get("locale") or "en").lower()
    return WORDS["fr" if locale.startswith("fr") else "en"]


WORDS: dict[str, dict[str, str]] = {
    "en": {
        "lang": "en",
        "title": "Your answer",
        "chose": "You chose <strong>{score}</strong> out of 10.",
        "comment": "Anything you would like to add? (optional)",
        "send": "Send my answer",
        "other": "Not what you meant? Choose another score in our email.",
        "title_done": "Thank you",
        "thanks": "Thank you! Your answer, {score} out of 10, is recorded.",
        "already": "We already have your answer to this survey: the first one counts. Thank you!",
        "title_expired": "This link has expired",
        "expired": "This survey link has expired, so nothing was recorded. Thank you all the same.",
    },
    "fr": {
        "lang": "fr",
        "title": "Votre réponse",
        "chose": "Vous avez choisi <strong>{score}</strong> sur 10.",
        "comment": "Souhaitez-vous ajouter quelque chose ? (facultatif)",
        "send": "Envoyer ma réponse",
        "other": "Ce n\u2019est pas ce que vous vouliez dire ? Choisissez une autre note dans "
        "notre e-mail.",
        "title_done": "Merci",
        "thanks": "Merci ! Votre réponse, {score} sur 10, est enregistrée.",
        "already": "Nous avons déjà votre réponse à cette enquête : seule la première "
        "compte. Merci !",
        "title_expired": "Ce lien a expiré",
        "expired": "Ce lien d\u2019enquête a expiré : rien n\u2019a été enregistré. "
        "Merci tout de même.",
    },
}


def _page(words: dict[str, str], title: str, body: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="{words["lang"]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;
  padding: 0 1rem; color: #222; line-height: 1.5; }}
label {{ display: block; margin: 1rem 0 .3rem; }}
textarea {{ width: 100%; font: inherit; margin-bottom: 1rem; }}
button {{ font-size: 1rem; padding: .6rem 1.2rem; border: 0; border-radius: .3rem;
  background: #222; color: #fff; cursor: pointer; }}
.note {{ color: #666; font-size: .9rem; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
    return HTMLResponse(page, headers=HEADERS)
