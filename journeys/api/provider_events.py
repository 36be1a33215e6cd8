"""Provider status webhooks: what happened to a message after the provider accepted it.

* ``POST /webhooks/twilio/status``: Twilio's SMS status callback. The adapter set
  ``StatusCallback`` to ``JOURNEYS_TWILIO_STATUS_CALLBACK?delivery_key=<key>``, so the query
  names the ledger row. ``X-Twilio-Signature`` is checked with ``JOURNEYS_TWILIO_AUTH_TOKEN``
  against the URL as received and, behind a proxy, as configured publicly
  (``JOURNEYS_TWILIO_STATUS_CALLBACK``, ``JOURNEYS_PUBLIC_URL``).
* ``POST /webhooks/sendgrid/events``: SendGrid's event webhook, a JSON array of events; the
  ``delivery_key`` custom arg of the mail names the row. The batch must carry a valid signed
  webhook signature when ``JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY`` is set, with a signed
  timestamp within ``JOURNEYS_SENDGRID_WEBHOOK_MAX_AGE`` seconds (600) of now; without a key
  every post is refused unless ``JOURNEYS_SENDGRID_WEBHOOK_INSECURE=true``.

A request that fails verification gets a 403 and changes nothing. A verified one updates
``provider_status`` (never ``status``: the exactly-once send logic does not read webhooks)
and may feed governance:

* a hard bounce (SendGrid ``bounce`` of type ``bounce``), a drop because SendGrid already
  knows the address as bounced, invalid or complaining, and an SMS that Twilio reports
  undeliverable for good (30005 unknown handset, 30006 landline or unreachable carrier) put
  the address on the suppression list: no message of any purpose goes there again;
* a spam complaint (``spamreport``) suppresses the address and withdraws the customer's
  marketing email consent (source ``spam-complaint``); SendGrid's own ``unsubscribe`` /
  ``group_unsubscribe`` withdraw it too (source ``provider-unsubscribe``).

Events are acknowledged with a 2xx even when no ledger row matches (an old key, another
system's mail): a provider retries non-2xx answers, and a retry would not find it either.
Redelivered events are harmless: every write is idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from journeys.api.signatures import timestamp_is_fresh, verify_sendgrid, verify_twilio
from journeys.api.state import ApiState, api_state
from journeys.model.json_values import text_problem
from journeys.store import Store

log = logging.getLogger("journeys.api.webhooks")
router = APIRouter(tags=["provider webhooks"])
State = Annotated[ApiState, Depends(api_state)]

TWILIO_PATH = "/webhooks/twilio/status"
SENDGRID_PATH = "/webhooks/sendgrid/events"
# Twilio error codes that mean the number cannot receive SMS at all: retrying is pointless.
SMS_PERMANENT_ERRORS = {
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
}
# SendGrid drops a message to an address already on one of its lists: mirror those.
DROPS_THAT_SUPPRESS = {"Bounced Address", "Invalid", "Spam Reporting Address"}
SENDGRID_STATUSES = {"processed", "deferred", "delivered", "bounce", "dropped", "spamreport"}
SENDGRID_UNSUBSCRIBES = {"unsubscribe", "group_unsubscribe"}


def _forbidden(message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=403)


# Twilio ---------------------------------------------------------------------------------


@router.post(TWILIO_PATH, status_code=204, summary="Twilio SMS status callback")
async def twilio_status(request: Request, state: State) -> Response:
    token = state.twilio.auth_token.get_secret_value() if state.twilio.auth_token else ""
    if not token:
        log.warning("Twilio status callback refused: JOURNEYS_TWILIO_AUTH_TOKEN is not set")
        return _forbidden("Twilio status callbacks are not configured")
    body = await request.body()
    params = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    signature = request.headers.get("X-Twilio-Signature")
    if not verify_twilio(token, signature, _twilio_urls(request, state), params):
        log.warning("Twilio status callback refused: bad or missing X-Twilio-Signature")
        return _forbidden("invalid X-Twilio-Signature")
    form = {name: value for name, value in params if _text(value)}  # NUL: as if absent
    report = TwilioReport(
        delivery_key=_text(request.query_params.get("delivery_key", "")),
        status=form.get("MessageStatus") or form.get("SmsStatus") or "",
        message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        error_code=form.get("ErrorCode") or "",
        error_message=form.get("ErrorMessage") or "",
        to=form.get("To") or "",
    )
    if not report.delivery_key or not report.status:
        log.info("Twilio status callback without delivery_key or status: ignored")
        return Response(status_code=204)
    await asyncio.to_thread(apply_twilio_report, state.store, report)
    return Response(status_code=204)


def _twilio_urls(request: Request, state: ApiState) -> list[str]:
    """Where Twilio may have sent this request: the URL as received, then as configured
    publicly (a TLS proxy in front changes the scheme, host or port this process sees)."""
    query = request.url.query
    urls = [str(request.url)]
    configured = state.twilio.status_callback
    if configured:
        parts = urlsplit(configured)
        urls.append(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))
    if state.unsubscribe.public_url:
        base = state.unsubscribe.public_url.strip().rstrip("/")
        urls.append(f"{base}{TWILIO_PATH}" + (f"?{query}" if query else ""))
    return list(dict.fromkeys(urls))


@dataclass(frozen=True)
class TwilioReport:
    delivery_key: str
    status: str
    message_sid: str
    error_code: str
    error_message: str
    to: str


def apply_twilio_report(store: Store, report: TwilioReport) -> None:
    reason = ""
    if report.error_code:
        reason = f"Twilio error {report.error_code}"
        if report.error_message:
            reason += f": {report.error_message}"
    row = store.ledger.record_provider_status(
        report.delivery_key, "sms", report.status, reason=reason, message_id=report.message_sid
    )
    if row is None:
        log.info("Twilio status for unknown delivery %s: ignored", report.delivery_key)
        return
    if row.provider_message_id and report.message_sid not in ("", row.provider_message_id):
        # Twilio has no idempotency key: two SIDs for one key is a duplicate SMS.
        log.warning(
            "delivery %s: Twilio reports message %s, the ledger recorded %s (a duplicate send?)",
            report.delivery_key,
            report.message_sid,
            row.provider_message_id,
        )
    permanent = SMS_PERMANENT_ERRORS.get(report.error_code)
    address = row.recipient or report.to
    if permanent and report.status in ("undelivered", "failed") and address:
        store.consent.suppress("sms", address, f"twilio {report.error_code}: {permanent}")


# SendGrid -------------------------------------------------------------------------------


@router.post(SENDGRID_PATH, summary="SendGrid event webhook")
async def sendgrid_events(request: Request, state: State) -> Response:
    body = await request.body()
    if state.sendgrid_key is not None:
        signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature")
        timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp")
        if not verify_sendgrid(state.sendgrid_key, signature, timestamp, body):
            log.warning("SendGrid events refused: bad or missing signature")
            return _forbidden("invalid or missing SendGrid event webhook signature")
        window = state.sendgrid.max_age
        if not timestamp_is_fresh(timestamp, window, time.time()):
            log.warning(
                "SendGrid events refused: signed timestamp %r is more than %d s from now "
                "(a replayed batch, or this server's clock is off)",
                timestamp,
                window,
            )
            return _forbidden(f"SendGrid event webhook timestamp outside the {window} s window")
    elif not state.sendgrid.insecure:
        log.warning("SendGrid events refused: JOURNEYS_SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
        return _forbidden("the SendGrid event webhook is not configured")
    try:
        events = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        events = None
    if not isinstance(events, list):
        return PlainTextResponse("expected a JSON array of events\n", status_code=400)
    updated = await asyncio.to_thread(apply_sendgrid_events, state.store, events)
    return JSONResponse({"events": len(events), "updated": updated})


def apply_sendgrid_events(store: Store, events: Sequence[Any]) -> int:
    """Applies a batch in order; returns how many events updated a ledger row."""
    updated = 0
    for event in events:
        if isinstance(event, Mapping):
            updated += _apply_sendgrid_event(store, event)
    return updated


def _apply_sendgrid_event(store: Store, event: Mapping[str, Any]) -> int:
    kind = _text(event.get("event"))
    key = _text(event.get("delivery_key"))  # our custom arg, echoed on every event
    if kind not in SENDGRID_STATUSES and kind not in SENDGRID_UNSUBSCRIBES:
        return 0  # opens, clicks, resubscribes: engagement, not delivery
    bounce_type = _text(event.get("type")) or "bounce"
    status = "blocked" if kind == "bounce" and bounce_type == "blocked" else kind
    reason = _text(event.get("reason") or event.get("response"))
    if event.get("status"):
        reason = f"{_text(event['status'])} {reason}".strip()
    row = None
    if key and kind in SENDGRID_STATUSES:
        message_id = _text(event.get("sg_message_id"))
        row = store.ledger.record_provider_status(
            key, "email", status, reason=reason, at=_at(event), message_id=message_id
        )
        if row is None:
            log.info("SendGrid %s for unknown delivery %s: ignored", kind, key)
    elif key:
        row = next((r for r in store.ledger.for_key(key) if r.channel == "email"), None)
    address = _text(event.get("email")) or (row.recipient if row else "") or ""
    customer_id = (row.customer_id if row else "") or _text(event.get("customer_id"))
    if address and status == "bounce":
        store.consent.suppress("email", address, f"hard bounce (sendgrid): {reason}".rstrip(": "))
    elif address and kind == "dropped" and _text(event.get("reason")) in DROPS_THAT_SUPPRESS:
        store.consent.suppress("email", address, f"dropped by sendgrid: {event.get('reason')}")
    elif kind == "spamreport":
        if address:
            store.consent.suppress("email", address, "spam complaint (sendgrid)")
        if customer_id:
            store.consent.set(
                customer_id, "email", False, source="spam-complaint", detail=f"sendgrid {key}"
            )
    elif kind in SENDGRID_UNSUBSCRIBES and customer_id:
        store.consent.set(
            customer_id, "email", False, source="provider-unsubscribe", detail=f"sendgrid {kind}"
        )
    return 1 if row is not None and kind in SENDGRID_STATUSES else 0


def _text(value: Any) -> str:
    # Text no database takes (NUL, an unpaired surrogate) is as good as absent.
    return value if isinstance(value, str) and text_problem(value) is None else ""


def _at(event: Mapping[str, Any]) -> datetime | None:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        try:
            return datetime.fromtimestamp(timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
