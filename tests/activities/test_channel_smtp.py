"""The SMTP adapter against a real SMTP server (aiosmtpd) on 127.0.0.1: no mocked transport."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from activities.channels.base import OutgoingMessage, PermanentChannelError
from activities.channels.smtp import SmtpAdapter, SmtpSettings
from journeys.delivery.unsubscribe import UnsubscribeSettings, read_token
from journeys.process.settings import SettingsError

UNSUBSCRIBE = UnsubscribeSettings(
    secret_key="test-only-secret-0123456789abcdefghijklmnop",
    public_url="https://journeys.example.com",
)
HTML = """<!doctype html>
<html><head><style>
p.lead { color: #cc0000; font-weight: bold; }
@media (max-width: 600px) { p.lead { font-size: 18px; } }
</style></head>
<body><p class="lead">Votre panier vous attend</p><p>129,90 €</p></body></html>"""
MESSAGE = OutgoingMessage(
    delivery_key="journey/abandoned-cart/ana/1/reminder",
    channel="email",
    recipient="ana@example.com",
    customer_id="ana",
    scenario_id="abandoned-cart",
    step_id="reminder",
    subject="Votre panier vous attend — 129,90 €\n",
    text="Bonjour Ana,\nvotre panier de 129,90 € vous attend.\n",
    html=HTML,
    locale="fr",
    template_file="abandoned_cart/reminder.email.fr.j2",
    journey_time=datetime(2030, 1, 1, tzinfo=UTC),
)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: Any

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class Mailbox:
    """An aiosmtpd handler that records messages and refuses what it is told to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_reply: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_reply:
            return self.rcpt_reply[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content or envelope.content,
                # session.ssl is set by STARTTLS; implicit TLS shows on the transport
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data,
            )
        )
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def running(mailbox: Mailbox, **kwargs: Any) -> Iterator[Controller]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def no_smtp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator's JOURNEYS_SMTP_* variables must not leak into these settings."""
    for name in [n for n in os.environ if n.startswith("JOURNEYS_SMTP_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain_server(mailbox: Mailbox) -> Iterator[Controller]:
    yield from running(mailbox)


def plain_settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "from_address": "news@shop.example",
        "from_name": "Shop Café",
        "timeout": 5,
    }
    return SmtpSettings(**(values | overrides))


def adapter_for(port: int, **overrides: Any) -> SmtpAdapter:
    return SmtpAdapter(plain_settings(port, **overrides), UNSUBSCRIBE)


def header_uris(value: str) -> list[str]:
    return re.findall(r"<([^>]+)>", value)


async def test_message_is_multipart_with_inlined_css_and_one_click_unsubscribe(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    message_id = await adapter_for(plain_server.port).send(MESSAGE)

    [received] = mailbox.received
    assert received.mail_from == "news@shop.example"
    assert received.rcpt_tos == ["ana@example.com"]
    mail = received.parsed()
    assert mail["Message-ID"] == message_id
    assert re.fullmatch(r"<[0-9a-f]{32}\.journeys@shop\.example>", message_id)
    assert mail["X-Journeys-Delivery"] == MESSAGE.delivery_key
    assert mail["Subject"] == "Votre panier vous attend — 129,90 €"
    assert mail["From"].addresses[0].display_name == "Shop Café"
    assert mail["From"].addresses[0].addr_spec == "news@shop.example"
    assert mail["To"] == "ana@example.com"
    assert mail["Date"] is not None
    assert mail["Content-Language"] == "fr"

    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content().replace("\r\n", "\n") == MESSAGE.text
    inlined = html.get_content()
    assert re.search(r'<p class="lead" style="color: #cc0000;\s*font-weight: bold;?"', inlined)
    assert "p.lead { color" not in inlined  # the inlined rule left the <style> block
    assert "@media (max-width: 600px)" in inlined  # what cannot be inlined is kept
    assert "129,90 €" in inlined

    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [url] = header_uris(mail["List-Unsubscribe"])
    assert url.startswith("https://journeys.example.com/u/")
    token = url.rsplit("/", 1)[1]
    assert read_token(token, settings=UNSUBSCRIBE) == ("ana", "email", "marketing")

    # On the wire: 7-bit, lines within RFC 5322's limit, and the URL neither folded nor
    # turned into an RFC 2047 encoded word (mail clients would not read it as a link).
    assert received.content.isascii()
    assert max(len(line) for line in received.content.split(b"\r\n")) <= 998
    [raw_header] = [
        line for line in received.content.split(b"\r\n") if line.startswith(b"List-Unsubscribe:")
    ]
    assert raw_header == f"List-Unsubscribe: <{url}>".encode()


async def test_message_id_is_the_same_for_every_attempt_of_a_delivery(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    # Two adapters stand for two worker processes retrying one delivery: SMTP sends twice,
    # and the receiving side can dedupe on the Message-ID.
    first = await adapter_for(plain_server.port).send(MESSAGE)
    second = await adapter_for(plain_server.port).send(MESSAGE)
    other = await adapter_for(plain_server.port).send(
        replace(MESSAGE, delivery_key="journey/abandoned-cart/ana/2/reminder")
    )

    assert first == second != other
    ids = [received.parsed()["Message-ID"] for received in mailbox.received]
    assert ids == [first, first, other]


async def test_a_retry_in_the_same_process_does_not_send_again(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    adapter = adapter_for(plain_server.port)
    assert await adapter.send(MESSAGE) == await adapter.send(MESSAGE)
    assert len(mailbox.received) == 1


async def test_mailto_unsubscribe_follows_the_https_link(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    adapter = adapter_for(plain_server.port, unsubscribe_mailto="unsubscribe@shop.example")
    await adapter.send(MESSAGE)

    https, mailto = header_uris(mailbox.received[0].parsed()["List-Unsubscribe"])
    assert https.startswith("https://journeys.example.com/u/")
    match = re.fullmatch(r"mailto:unsubscribe@shop\.example\?subject=unsubscribe%20(.+)", mailto)
    assert match is not None
    assert read_token(match[1], settings=UNSUBSCRIBE) == ("ana", "email", "marketing")


async def test_text_only_message_is_plain_text(plain_server: Controller, mailbox: Mailbox) -> None:
    await adapter_for(plain_server.port).send(replace(MESSAGE, html=None, locale=""))

    mail = mailbox.received[0].parsed()
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().replace("\r\n", "\n") == MESSAGE.text
    assert mail["Content-Language"] is None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_550_for_the_recipient_is_permanent(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    mailbox.rcpt_reply["ana@example.com"] = "550 5.1.1 <ana@example.com>: no such user"

    with pytest.raises(PermanentChannelError, match=r"550 5\.1\.1"):
        await adapter_for(plain_server.port).send(MESSAGE)
    assert mailbox.received == []


async def test_451_for_the_recipient_is_transient(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    mailbox.rcpt_reply["ana@example.com"] = "451 4.7.1 greylisted, try again later"

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await adapter_for(plain_server.port).send(MESSAGE)
    assert not isinstance(raised.value, PermanentChannelError)

    del mailbox.rcpt_reply["ana@example.com"]  # the retry Temporal would make goes through
    await adapter_for(plain_server.port).send(MESSAGE)
    assert len(mailbox.received) == 1


async def test_content_refused_at_data_is_permanent_and_a_4xx_there_is_not(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    mailbox.data_reply = "554 5.7.1 message refused as spam"
    with pytest.raises(PermanentChannelError, match="554"):
        await adapter_for(plain_server.port).send(MESSAGE)

    mailbox.data_reply = "452 4.3.1 insufficient system storage"
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await adapter_for(plain_server.port).send(MESSAGE)
    assert not isinstance(raised.value, PermanentChannelError)


async def test_a_closed_port_is_transient() -> None:
    with pytest.raises(aiosmtplib.SMTPConnectError) as raised:
        await adapter_for(free_port()).send(MESSAGE)
    assert not isinstance(raised.value, PermanentChannelError)
    assert isinstance(raised.value, ConnectionError)


async def test_a_server_that_never_answers_times_out_as_transient() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accept, then never send the 220 greeting

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(aiosmtplib.SMTPTimeoutError) as raised:
            await adapter_for(port, timeout=0.3).send(MESSAGE)
        assert not isinstance(raised.value, PermanentChannelError)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("recipient", ["ana", "ana@", "Ana <ana@example.com>", "anä@example.com"])
async def test_an_unusable_address_is_permanent_without_connecting(recipient: str) -> None:
    # The port is closed: a connection attempt would raise SMTPConnectError instead.
    with pytest.raises(PermanentChannelError, match="address"):
        await adapter_for(free_port()).send(replace(MESSAGE, recipient=recipient))


# --- TLS and AUTH -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not available to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"journeys", b"s3cret-pass")
    # handled=False: aiosmtpd answers the failure (535) itself
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture
def starttls_server(mailbox: Mailbox, server_tls: ssl.SSLContext) -> Iterator[Controller]:
    yield from running(
        mailbox,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )


def tls_settings(port: int, certificate: tuple[Path, Path], **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "starttls": True,
        "username": "journeys",
        "password": "s3cret-pass",
        "ca_file": certificate[0],
    }
    return plain_settings(port, **(values | overrides))


async def test_starttls_and_auth(
    starttls_server: Controller, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    adapter = SmtpAdapter(tls_settings(starttls_server.port, certificate), UNSUBSCRIBE)
    message_id = await adapter.send(MESSAGE)

    [received] = mailbox.received
    assert received.tls and received.login == b"journeys"
    assert received.parsed()["Message-ID"] == message_id


async def test_a_wrong_password_is_transient(
    starttls_server: Controller, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    settings = tls_settings(starttls_server.port, certificate, password="wrong")
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
        await SmtpAdapter(settings, UNSUBSCRIBE).send(MESSAGE)
    assert not isinstance(raised.value, PermanentChannelError)
    assert mailbox.received == []


async def test_an_untrusted_certificate_is_refused(
    starttls_server: Controller, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    settings = tls_settings(starttls_server.port, certificate, ca_file=None)
    # Raised by the ssl module, not aiosmtplib: still transient (not PermanentChannelError).
    with pytest.raises(ssl.SSLCertVerificationError):
        await SmtpAdapter(settings, UNSUBSCRIBE).send(MESSAGE)
    assert mailbox.received == []


async def test_implicit_tls(
    mailbox: Mailbox, server_tls: ssl.SSLContext, certificate: tuple[Path, Path]
) -> None:
    for controller in running(mailbox, ssl_context=server_tls):
        settings = plain_settings(controller.port, use_tls=True, ca_file=certificate[0])
        await SmtpAdapter(settings, UNSUBSCRIBE).send(MESSAGE)
    [received] = mailbox.received
    assert received.tls


# --- settings -----------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HOST": "smtp.example.net",
        "USERNAME": "apikey",
        "PASSWORD": "very-secret",
        "FROM_ADDRESS": "news@shop.example",
        "FROM_NAME": "Shop",
        "USE_TLS": "true",
        "TIMEOUT": "12.5",
    }.items():
        monkeypatch.setenv(f"JOURNEYS_SMTP_{name}", value)

    settings = SmtpSettings()

    assert (settings.host, settings.username, settings.from_name) == (
        "smtp.example.net",
        "apikey",
        "Shop",
    )
    assert settings.password is not None and settings.password.get_secret_value() == "very-secret"
    assert "very-secret" not in repr(settings)
    assert (settings.use_tls, settings.effective_port, settings.timeout) == (True, 465, 12.5)
    monkeypatch.delenv("JOURNEYS_SMTP_USE_TLS")
    assert SmtpSettings(host="h").effective_port == 587
    assert SmtpSettings(host="h", starttls=False).effective_port == 25


def test_unusable_settings_fail_when_the_adapter_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEYS_SECRET_KEY", raising=False)
    monkeypatch.setenv("JOURNEYS_PUBLIC_URL", "https://journeys.example.com")
    good = plain_settings(2525)
    with pytest.raises(SettingsError, match="JOURNEYS_SECRET_KEY"):
        SmtpAdapter(good)
    bad = {
        "JOURNEYS_SMTP_HOST": {"host": None},
        "JOURNEYS_SMTP_FROM_ADDRESS": {"from_address": None},
        "in clear": {"host": "smtp.example.net", "username": "u", "password": "p"},
        "without JOURNEYS_SMTP_USERNAME": {"password": "p"},
        "not valid": {"from_address": "not an address"},
    }
    for message, overrides in bad.items():
        with pytest.raises(SettingsError, match=message):
            SmtpAdapter(plain_settings(2525, **overrides), UNSUBSCRIBE)
