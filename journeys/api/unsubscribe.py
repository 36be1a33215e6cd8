"""``/u/{token}``: the signed unsubscribe link of every message (RFC 8058 one-click).

* ``GET`` shows a confirmation page and changes nothing: mail security scanners and link
  previewers fetch links on their own, and must not unsubscribe anyone.
* ``POST`` unsubscribes. Mailbox providers send ``List-Unsubscribe=One-Click`` (RFC 8058:
  ``multipart/form-data`` or form-encoded); the confirmation page's button posts a form; some
  clients post nothing. The signed token is the authority, so the body is not required —
  it only tells the consent log which of these it was.

Unsubscribing withdraws the customer's **marketing** consent for the token's channel,
recorded in ``consent_changes`` with source ``unsubscribe-link`` and the time; doing it twice
changes and records nothing the second time. Transactional messages (a receipt, a password
reset) do not use marketing consent and keep arriving, which the page says. Every running
journey reads consent at its next send, so the next marketing message is suppressed.

A token that is not ours (tampered, truncated) gets a 400 with a plain sentence and changes
nothing. A genuine token past its lifetime (a year by default) gets a 410 page that says
how to unsubscribe otherwise (the link in a newer message, or a reply)
and changes nothing either. Pages are not cached, not indexed and send no referrer (the
token is in the URL).
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from journeys.api.state import ApiState, api_state
from journeys.delivery.unsubscribe import (
    ExpiredUnsubscribeToken,
    InvalidUnsubscribeToken,
    UnsubscribeTarget,
    read_token,
)
from journeys.model.channels import CHANNELS, SPECS
from journeys.process.settings import SettingsError

log = logging.getLogger("journeys.api.unsubscribe")
router = APIRouter(tags=["unsubscribe"])

SOURCE = "unsubscribe-link"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
INVALID = (
    "This unsubscribe link is not valid: it may have been cut or changed. "
    "Use the link from the message itself, or reply to it and ask to be unsubscribed.\n"
)
UNAVAILABLE = "Unsubscribe links cannot be checked right now. Please try again later.\n"

State = Annotated[ApiState, Depends(api_state)]


@router.get("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe confirmation page")
async def confirm(token: str, state: State) -> Response:
    target = _target(token, state)
    if isinstance(target, Response):
        return target
    customer = await asyncio.to_thread(state.store.customers.get, target.customer_id)
    noun = SPECS[target.channel].messages
    who = _masked(customer, target.channel)
    if customer is not None and not customer["consent"].get(target.channel):
        body = f"<p>{who} does not receive our marketing {noun}.</p>"
        return _page("You are unsubscribed", body)
    body = (
        f"<p>Stop sending marketing {noun} to {who}?</p>"
        '<form method="post"><input type="hidden" name="confirm" value="yes">'
        f'<button type="submit">Unsubscribe from marketing {noun}</button></form>'
        f"<p class=note>{_transactional_note(noun)}</p>"
    )
    return _page("Unsubscribe", body)


@router.post(
    "/u/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (RFC 8058 one-click, or the confirmation page's button)",
)
async def unsubscribe(token: str, request: Request, state: State) -> Response:
    target = _target(token, state)
    if isinstance(target, Response):
        return target
    body = await request.body()
    # Form-encoded or multipart (RFC 8058 allows both): the field name and value are there.
    one_click = b"List-Unsubscribe" in body and b"One-Click" in body
    how = "one-click" if one_click else "confirmation page" if body else "empty post"
    detail = f"{how}; link for {target.purpose} messages"
    changed = await asyncio.to_thread(
        state.store.consent.set,
        target.customer_id,
        target.channel,
        False,
        source=SOURCE,
        detail=detail,
    )
    if changed:
        log.info("customer %s unsubscribed from %s (%s)", target.customer_id, target.channel, how)
    noun = SPECS[target.channel].messages
    text = f"<p>You will not receive our marketing {noun} any more.</p>"
    return _page("You are unsubscribed", text + f"<p class=note>{_transactional_note(noun)}</p>")


def _target(token: str, state: ApiState) -> UnsubscribeTarget | Response:
    """Who unsubscribes from what, or the response that says why not."""
    try:
        target = read_token(token, settings=state.unsubscribe)
    except ExpiredUnsubscribeToken as expired:
        log.info("expired unsubscribe link for customer %s refused", expired.target.customer_id)
        return _expired(expired, state)
    except InvalidUnsubscribeToken:
        return PlainTextResponse(INVALID, status_code=400, headers=HEADERS)
    except SettingsError as err:  # a server problem, not the customer's
        log.error("cannot check unsubscribe links: %s", err)
        return PlainTextResponse(UNAVAILABLE, status_code=503, headers=HEADERS)
    if target.channel not in CHANNELS:
        return PlainTextResponse(INVALID, status_code=400, headers=HEADERS)
    return target


def _expired(expired: ExpiredUnsubscribeToken, state: ApiState) -> Response:
    """What a customer with an old link reads: why it does not work, and what does."""
    spec = SPECS.get(expired.target.channel)  # an expired link is not checked further
    noun = spec.messages if spec else "messages"
    age = f"more than {state.unsubscribe.unsubscribe_token_days} days ago"
    if expired.issued_at is None:
        age = "before our current links"
    body = (
        f"<p>This unsubscribe link has expired: it came in a message we sent {age}, "
        "and links that old no longer work. Nothing was changed.</p>"
        f"<p>To stop our marketing {noun}, use the unsubscribe link in a more recent "
        "message from us, or reply to any of our messages and ask to be unsubscribed.</p>"
    )
    page = _page("This link has expired", body)
    page.status_code = 410
    return page


def _masked(customer: dict[str, Any] | None, channel: str) -> str:
    """The address, hidden enough that a forwarded link does not reveal it."""
    address = str((customer or {}).get(SPECS[channel].address_field) or "")
    if channel == "email" and "@" in address:
        local, _, domain = address.rpartition("@")
        return html.escape(f"{local[:1]}•••@{domain}")
    if channel == "sms" and len(address) > 2:
        return html.escape(f"the number ending in {address[-2:]}")
    return "this " + SPECS[channel].hidden_address


def _transactional_note(noun: str) -> str:
    return f"Service {noun} about your orders and account are not affected."


def _page(title: str, body: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;
  padding: 0 1rem; color: #222; line-height: 1.5; }}
button {{ font-size: 1rem; padding: .6rem 1.2rem; border: 0; border-radius: .3rem;
  background: #222; color: #fff; cursor: pointer; }}
.note {{ color: #666; font-size: .9rem; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
    return HTMLResponse(page, headers=HEADERS)
