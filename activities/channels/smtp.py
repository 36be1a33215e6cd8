"""Email over SMTP (aiosmtplib): one connection per message, STARTTLS or implicit TLS, AUTH.

The message is what a deliverability engineer expects of marketing mail:

* ``multipart/alternative`` with ``text/plain`` first and ``text/html`` last (clients show
  the last part they can render), both quoted-printable so every line stays 7-bit and
  short whatever the relay supports; the HTML has its ``<style>`` rules inlined into
  ``style=`` attributes (css-inline), because many clients drop ``<style>``. ``@media``
  rules cannot be inlined and stay in a ``<style>`` block; remote stylesheets are never
  fetched (a send must not depend on someone else's web server).
* ``Message-ID`` derived from the delivery key, ``X-Journeys-Delivery: <delivery key>``.
* ``List-Unsubscribe: <https://…/u/<token>>`` (plus ``<mailto:…>`` when configured) and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), signed by
  ``journeys.delivery.unsubscribe``. RFC 8058 also wants both headers covered by the DKIM
  signature: the relay that signs (SES, SendGrid, Postfix + OpenDKIM) must include them.

Idempotency: SMTP has no idempotency field. A retried send is a new SMTP transaction, so
the correlation the receiving side can dedupe on is the ``Message-ID``, which is the same
for every attempt of one delivery key (and ``X-Journeys-Delivery`` carries the key
itself). The deliver activity's ledger prevents most second calls; this adapter also
remembers, per process, the keys whose DATA the server accepted, so a retry in the same
worker (e.g. after the ledger write failed) returns the first Message-ID without sending.
What remains is the window where the server accepted DATA but its reply never reached us.

Errors: a 5xx reply to RCPT (``550 5.1.1 no such user``) or to DATA (``554`` content
refused, ``552`` too big) is this message's permanent failure → ``PermanentChannelError``
(the deliver activity records it and falls back). Everything else is transient and
re-raised for Temporal to retry: 4xx replies (greylisting ``451``, ``421``), connection
refused or reset, timeouts, TLS and AUTH failures (an operator's problem: sends resume
once it is fixed instead of failing every customer), and a 5xx to ``MAIL FROM`` (our
sender is refused, not the recipient).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import OrderedDict
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import aiosmtplib
import css_inline
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from journeys.delivery.unsubscribe import UnsubscribeSettings, make_token, unsubscribe_url
from journeys.process.settings import SettingsError

log = logging.getLogger(__name__)

# OutgoingMessage has no purpose yet; every message it carries today is marketing.
DEFAULT_PURPOSE = "marketing"
ONE_CLICK = "List-Unsubscribe=One-Click"
# Hard limit of RFC 5322 for a header line, CRLF excluded.
MAX_LINE = 998
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class SmtpSettings(BaseSettings):
    """``JOURNEYS_SMTP_*``. SMTP is used for email when ``JOURNEYS_SMTP_HOST`` is set."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_SMTP_", extra="ignore")

    host: str | None = None
    port: int | None = None  # default: 465 with use_tls, 587 with starttls, else 25
    username: str | None = None
    password: SecretStr | None = None
    # Require STARTTLS before AUTH and MAIL (ignored with use_tls); off = plain SMTP,
    # for a relay on the same host.
    starttls: bool = True
    use_tls: bool = False  # implicit TLS from the first byte ("SMTPS", port 465)
    from_address: str | None = None
    from_name: str = ""
    timeout: float = 30.0  # seconds, for the connection and for each command
    # Extra CA bundle (PEM) for a relay with a private CA. Certificates are always verified.
    ca_file: Path | None = None
    # Envelope sender (MAIL FROM, where bounces go); defaults to from_address.
    return_path: str | None = None
    # Also offer <mailto:ADDRESS?subject=unsubscribe%20TOKEN> in List-Unsubscribe.
    unsubscribe_mailto: str | None = None

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.use_tls:
            return 465
        return 587 if self.starttls else 25

    @property
    def uses_tls(self) -> bool:
        return self.use_tls or self.starttls


class _HeaderPolicy(EmailPolicy):
    """Writes URL-bearing ASCII headers unfolded; everything else as the SMTP policy does.

    The stdlib folds at 78 columns, and a token longer than that (a signed unsubscribe
    URL) becomes an RFC 2047 encoded word, which no mail client reads back as a URL. One
    unfolded line is valid up to 998 characters.
    """

    verbatim = frozenset({"list-unsubscribe", "x-journeys-delivery"})

    def fold_binary(self, name: str, value: str) -> bytes:
        text = str(value)
        if (
            name.lower() in self.verbatim
            and text.isascii()
            and len(name) + 2 + len(text) <= MAX_LINE
        ):
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = _HeaderPolicy(linesep="\r\n")


def message_id_for(delivery_key: str, domain: str) -> str:
    """The ``Message-ID`` of every attempt of one delivery: a hash, so no id leaks into it."""
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.journeys@{domain}>"


class SmtpAdapter(ChannelAdapter):
    """Sends one email per ``send`` over a fresh SMTP connection; returns its Message-ID.

    Settings are checked here, so a worker with an unusable SMTP or unsubscribe
    configuration fails at start rather than on every send.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        unsubscribe: UnsubscribeSettings | None = None,
        *,
        remember: int = 10_000,
    ) -> None:
        self.settings = settings
        self.unsubscribe = unsubscribe or UnsubscribeSettings()
        self.unsubscribe.key()  # raises SettingsError when missing or weak
        self.unsubscribe.base_url()
        if not settings.host:
            raise SettingsError("JOURNEYS_SMTP_HOST is not set")
        if not settings.from_address:
            raise SettingsError("JOURNEYS_SMTP_FROM_ADDRESS is not set")
        if settings.password is not None and not settings.username:
            raise SettingsError("JOURNEYS_SMTP_PASSWORD is set without JOURNEYS_SMTP_USERNAME")
        if settings.username and not settings.uses_tls and settings.host not in _LOOPBACK:
            raise SettingsError(
                "JOURNEYS_SMTP_USERNAME is set but STARTTLS and implicit TLS are both off: "
                "the password would cross the network in clear"
            )
        try:
            self.sender = Address(settings.from_name, addr_spec=settings.from_address)
            envelope = settings.return_path or settings.from_address
            Address(addr_spec=envelope)
            if settings.unsubscribe_mailto:
                Address(addr_spec=settings.unsubscribe_mailto)
        except Exception as err:  # the email package raises several defect types
            raise SettingsError(f"an SMTP address setting is not valid: {err}") from err
        self.envelope_sender = envelope
        self.inliner = css_inline.CSSInliner(
            keep_at_rules=True, keep_link_tags=True, load_remote_stylesheets=False
        )
        self._remember = remember
        self._accepted: OrderedDict[str, str] = OrderedDict()

    async def send(self, message: OutgoingMessage) -> str:
        remembered = self._accepted.get(message.delivery_key)
        if remembered is not None:
            return remembered
        mime = self.build(message)
        message_id = str(mime["Message-ID"])
        raw = _flatten(mime)
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.effective_port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            use_tls=settings.use_tls,
            start_tls=settings.starttls and not settings.use_tls,
            timeout=settings.timeout,
            cert_bundle=str(settings.ca_file) if settings.ca_file else None,
        )
        accepted = False
        try:
            await client.connect()  # TLS and AUTH happen here, as configured
            await client.sendmail(self.envelope_sender, [message.recipient], raw)
            accepted = True
            self._accepted[message.delivery_key] = message_id  # before QUIT, which may fail
            while len(self._accepted) > self._remember:
                self._accepted.popitem(last=False)
        except aiosmtplib.SMTPException as err:
            reason = permanent_reason(err)
            if reason is not None:
                raise PermanentChannelError(reason) from err
            raise
        finally:
            if accepted:
                await _quit(client)
            else:
                client.close()
        return message_id

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message, or ``PermanentChannelError`` when it cannot be built."""
        recipient = _recipient(message.recipient)
        domain = self.sender.domain
        purpose = message.purpose
        try:
            mime = EmailMessage(policy=POLICY)
            mime["From"] = self.sender
            mime["To"] = recipient
            # A template's subject may end with a newline; headers cannot contain one.
            mime["Subject"] = " ".join(message.subject.split())
            mime["Date"] = format_datetime(datetime.now(UTC))  # when it leaves, not journey time
            mime["Message-ID"] = message_id_for(message.delivery_key, domain)
            mime["X-Journeys-Delivery"] = message.delivery_key
            mime["List-Unsubscribe"] = self.list_unsubscribe(message.customer_id, purpose)
            mime["List-Unsubscribe-Post"] = ONE_CLICK
            mime.set_content(message.text, cte="quoted-printable")
            if message.html:
                html = self.inliner.inline(message.html)
                mime.add_alternative(html, subtype="html", cte="quoted-printable")
            if message.locale:  # after set_content, which clears every Content-* header
                mime["Content-Language"] = message.locale.replace("_", "-")
        except (ValueError, TypeError, css_inline.InlineError) as err:
            raise PermanentChannelError(f"email cannot be built: {err}") from err
        return mime

    def list_unsubscribe(self, customer_id: str, purpose: str) -> str:
        """``<https://…/u/TOKEN>`` (one-click) first, then ``<mailto:…>`` when configured."""
        url = unsubscribe_url(customer_id, "email", purpose, settings=self.unsubscribe)
        uris = [f"<{url}>"]
        if self.settings.unsubscribe_mailto:
            token = make_token(customer_id, "email", purpose, settings=self.unsubscribe)
            subject = quote(f"unsubscribe {token}")
            uris.append(f"<mailto:{self.settings.unsubscribe_mailto}?subject={subject}>")
        return ", ".join(uris)


def permanent_reason(err: aiosmtplib.SMTPException) -> str | None:
    """Why the server refused this message for good, or None when a retry may succeed."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        refusals = err.recipients
        if refusals and all(_is_permanent(refusal.code) for refusal in refusals):
            return "; ".join(f"{r.code} {r.message} ({r.recipient})" for r in refusals)
        return None
    if isinstance(err, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return f"{err.code} {err.message}" if _is_permanent(err.code) else None
    if isinstance(err, aiosmtplib.SMTPNotSupported):  # e.g. SMTPUTF8 needed, relay lacks it
        return str(err)
    return None


def _is_permanent(code: int) -> bool:
    return 500 <= code <= 599


def _recipient(address: str) -> Address:
    if not address.isascii():
        raise PermanentChannelError(
            f"email address {address!r} needs SMTPUTF8 (internationalized), not supported"
        )
    try:
        parsed = Address(addr_spec=address)
    except Exception as err:  # the email package raises several defect types
        raise PermanentChannelError(f"email address {address!r} is not valid: {err}") from err
    if not parsed.domain:
        raise PermanentChannelError(f"email address {address!r} has no domain")
    return parsed


def _flatten(mime: EmailMessage) -> bytes:
    # Our own flattening: aiosmtplib's would refold with the stock SMTP policy.
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=POLICY).flatten(mime)
    return buffer.getvalue()


async def _quit(client: aiosmtplib.SMTP) -> None:
    """QUIT after an accepted message; a failure now must not turn into a resend."""
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError) as err:
        log.debug("SMTP QUIT failed after the message was accepted: %s", err)
        client.close()
