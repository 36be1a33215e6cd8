"""SMS over Twilio's Messages API (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``).

The request is form-encoded (``To``, ``From`` or ``MessagingServiceSid``, ``Body``,
``StatusCallback``) with HTTP Basic auth (account SID, auth token); Twilio answers 201 with
the message resource, whose ``sid`` is the message id. Refusals carry a Twilio error code
(``{"code": 21211, "message": ...}``): 21211 invalid number, 21614 not a mobile number,
21610 the recipient replied STOP — all 400s, so permanent: the deliver activity records
``failed:adapter`` with the code and falls back to the next channel.

Exactly-once: Twilio's Messages API has **no idempotency key**, so a repeated request is a
second SMS. What prevents one is the deliver activity's ledger: the row is reserved before
this call and marked ``sent`` after it, and a retried activity that finds ``sent`` does not
call the adapter again; within one worker the adapter also remembers the keys it sent. The
remaining window is a worker that dies after Twilio accepted and before the ledger says
``sent`` (every send in flight at a crash). The delivery key is passed where Twilio allows:
in the ``StatusCallback`` URL's query (``?delivery_key=...``), so each status callback names
the ledger row it is about. A callback that reaches a row still ``reserved`` tells the retry
that Twilio has the message: it marks the row sent instead of sending again
(``activities.delivery_plan``; bench/crash_window.py measures it). A callback that comes
after the retry shows the duplicate as two message SIDs for one key.

Settings (``JOURNEYS_TWILIO_*``): ``ACCOUNT_SID``, ``AUTH_TOKEN`` and one of ``FROM_NUMBER`` /
``MESSAGING_SERVICE_SID`` are required; ``STATUS_CALLBACK`` (the public URL of the status
endpoint) and ``BASE_URL`` are optional.
"""

from __future__ import annotations

from base64 import b64encode
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from activities.channels.base import OutgoingMessage
from activities.channels.http import ChannelConfigError, HttpAdapter, json_or_none, require
from journeys.process.twilio_settings import TwilioSettings

__all__ = ["TwilioAdapter", "TwilioSettings", "status_callback_url", "twilio_form"]


def status_callback_url(base: str, delivery_key: str) -> str:
    """``base`` with ``delivery_key`` added to its query (other parameters kept)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k != "delivery_key"]
    query.append(("delivery_key", delivery_key))
    return urlunsplit(parts._replace(query=urlencode(query)))


def twilio_form(message: OutgoingMessage, settings: TwilioSettings) -> dict[str, str]:
    """The form fields; a Messaging Service wins over a number (it picks the sender itself)."""
    form = {"To": message.recipient, "Body": message.text}
    if settings.messaging_service_sid:
        form["MessagingServiceSid"] = settings.messaging_service_sid
    else:
        form["From"] = str(settings.from_number)
    if settings.status_callback:
        form["StatusCallback"] = status_callback_url(settings.status_callback, message.delivery_key)
    return form


class TwilioAdapter(HttpAdapter):
    provider = "twilio"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: TwilioSettings | None = None,
        *,
        max_retry_after: float = 3600.0,
    ) -> None:
        super().__init__(client, max_retry_after=max_retry_after)
        self.settings = settings or TwilioSettings()
        require(self.settings, "account_sid", "auth_token")
        if not (self.settings.from_number or self.settings.messaging_service_sid):
            raise ChannelConfigError(
                "Twilio is not configured: set JOURNEYS_TWILIO_FROM_NUMBER "
                "or JOURNEYS_TWILIO_MESSAGING_SERVICE_SID"
            )

    async def build_request(self, message: OutgoingMessage) -> httpx.Request:
        settings = self.settings
        assert settings.account_sid is not None and settings.auth_token is not None
        url = f"{settings.base_url.rstrip('/')}/2010-04-01/Accounts/{settings.account_sid}"
        credentials = f"{settings.account_sid}:{settings.auth_token.get_secret_value()}"
        return self.client.build_request(
            "POST",
            f"{url}/Messages.json",
            data=twilio_form(message, settings),
            headers={"Authorization": f"Basic {b64encode(credentials.encode()).decode()}"},
        )

    def parse_message_id(self, message: OutgoingMessage, response: httpx.Response) -> str:
        body = json_or_none(response)
        sid = body.get("sid") if isinstance(body, dict) else None
        return str(sid) if sid else f"twilio:{message.delivery_key}"

    def error_text(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        if isinstance(body, dict) and body.get("message"):
            code = body.get("code")
            prefix = f"Twilio error {code}: " if code else ""
            return f"{prefix}{body['message']}"
        return super().error_text(response)
