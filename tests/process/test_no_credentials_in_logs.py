"""No credential in logs: the store URL's password, API keys, tokens and the secret key.

The start-up path is real: ``python worker.py`` against the PostgreSQL store with a password
in ``JOURNEYS_DATABASE_URL`` (the local server trusts loopback, so any password connects),
its output read as an operator's log collector would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from activities.channels.fcm import FcmSettings
from activities.channels.sendgrid import SendGridSettings
from activities.channels.smtp import SmtpSettings
from activities.channels.webhook import WebhookSettings
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.process.logs import JsonFormatter, RedactingFormatter
from journeys.process.redact import redact
from journeys.process.settings import Settings, SettingsError, load_settings
from journeys.process.twilio_settings import TwilioSettings
from tests.cli_process import start_worker
from tests.databases import POSTGRES_URL

SECRET = "S3cret-in-the-url"


def postgres_url_with_password() -> tuple[str, str]:
    """The test database's URL with a password in it, and that password."""
    url = make_url(POSTGRES_URL)
    if not url.password:
        url = url.set(password=SECRET)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as err:  # any connection failure means: no server here
        pytest.skip(f"PostgreSQL at {url.render_as_string()} does not answer: {err}")
    return url.render_as_string(hide_password=False), str(url.password)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_the_worker_logs_the_store_url_without_its_password(
    temporal: WorkflowEnvironment, log_format: str
) -> None:
    url, password = postgres_url_with_password()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TEMPORAL_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        TEMPORAL_API_KEY="",
        JOURNEYS_TASK_QUEUE=f"journeys-redact-{log_format}",
        JOURNEYS_DATABASE_URL=url,
        JOURNEYS_LOG_FORMAT=log_format,
    )
    process = await start_worker(env, output=True)
    assert process.stdout is not None
    output = b""
    try:
        deadline = time.monotonic() + 60
        while b"worker on" not in output and time.monotonic() < deadline:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            if not line:
                break
            output += line
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 30)
        output += rest
    logged = output.decode()
    assert "worker on" in logged, logged
    assert password not in logged
    user = make_url(url).username
    assert f"{user}:***@" in logged  # the URL is still there, readable


def test_a_bad_store_url_is_reported_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(("JOURNEYS_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    for bad in (
        f"postgresql+psycopg://app:{SECRET}@db.internal:notaport/journeys",
        f"not a url app:{SECRET}@x",
        f"postgresql+psycopg://db.internal/journeys?password={SECRET}&sslmode=require:x:9",
    ):
        monkeypatch.setenv("JOURNEYS_DATABASE_URL", bad)
        try:
            load_settings()
        except SettingsError as err:
            assert "JOURNEYS_DATABASE_URL" in str(err)
            assert SECRET not in str(err), str(err)
        else:  # parsed: then what is shown of it must not carry the password
            assert SECRET not in Settings().store_url_shown


def test_settings_reprs_hold_no_secret() -> None:
    """What a ``log.info("%s", settings)`` or a traceback's locals would print."""
    values = [
        Settings(
            database_url=f"postgresql+psycopg://app:{SECRET}@db/journeys",
            temporal_api_key=SECRET,
        ),
        TwilioSettings(account_sid="AC1", auth_token=SECRET, from_number="+1555"),
        SendGridSettings(api_key=SECRET, from_email="club@shop.example"),
        SmtpSettings(host="smtp.example", username="club", password=SECRET),
        FcmSettings(project_id="p", access_token=SECRET, service_account_json=SECRET),
        WebhookSettings(url="https://hook.example", secret=SECRET),
        UnsubscribeSettings(secret_key=SECRET * 2, previous_secret_keys=SECRET * 3),
    ]
    for value in values:
        assert SECRET not in repr(value), type(value).__name__
        assert SECRET not in str(value), type(value).__name__


def test_every_log_line_is_redacted_whoever_logs_it() -> None:
    import logging

    record = logging.LogRecord(
        "sqlalchemy.engine", logging.ERROR, __file__, 1,
        "could not connect to %s", (f"postgresql://app:{SECRET}@db:5432/journeys",), None,
    )  # fmt: skip
    for formatter in (RedactingFormatter("%(message)s"), JsonFormatter()):
        line = formatter.format(record)
        assert SECRET not in line
        assert "app:***@db:5432" in line
    assert redact("no url here = fine") == "no url here = fine"
    assert redact("https://hooks.example/x?token=abc") == "https://hooks.example/x?token=abc"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:it's-a-secret@db/j", "postgresql+psycopg://app:***@db/j"),
        ("postgresql://app:p%40ss@db/j", "postgresql://app:***@db/j"),
        ("'postgresql://app:pw@db/j' (quoted)", "'postgresql://app:***@db/j' (quoted)"),
        ("postgresql://db/j?user=app&password=pw", "postgresql://db/j?user=app&password=***"),
    ],
)
def test_passwords_are_masked_whatever_characters_they_hold(url: str, shown: str) -> None:
    assert redact(url) == shown
