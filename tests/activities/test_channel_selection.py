"""Each channel's adapter comes from the environment; the outbox until a provider is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.channels.http import ChannelConfigError
from activities.channels.outbox import OutboxAdapter
from activities.channels.selection import adapters_from_settings
from activities.channels.twilio import TwilioAdapter
from activities.channels.webhook import WebhookAdapter
from journeys.store import Store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    import os

    for name in list(os.environ):
        if name.startswith("JOURNEYS_"):
            monkeypatch.delenv(name)
    store = Store(f"sqlite:///{tmp_path / 'j.db'}")
    store.create_schema()
    return store


def test_nothing_configured_means_the_outbox_everywhere(store: Store) -> None:
    adapters = adapters_from_settings(store)
    assert {type(a) for a in adapters.values()} == {OutboxAdapter}


def test_a_configured_provider_is_picked_for_its_channel(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("JOURNEYS_TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("JOURNEYS_TWILIO_FROM_NUMBER", "+15550001111")
    monkeypatch.setenv("JOURNEYS_PUSH_PROVIDER", "webhook")
    monkeypatch.setenv("JOURNEYS_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("JOURNEYS_WEBHOOK_SECRET", "s" * 32)
    adapters = adapters_from_settings(store)
    assert isinstance(adapters["sms"], TwilioAdapter)
    assert isinstance(adapters["push"], WebhookAdapter)
    assert isinstance(adapters["email"], OutboxAdapter)
    assert adapters["sms"].client is adapters["push"].client  # one pooled client per worker


def test_a_chosen_but_unconfigured_provider_stops_the_worker(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_EMAIL_PROVIDER", "sendgrid")
    with pytest.raises(ChannelConfigError, match="JOURNEYS_SENDGRID_API_KEY"):
        adapters_from_settings(store)


def test_a_provider_of_another_channel_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SMS_PROVIDER", "sendgrid")
    with pytest.raises(ValueError, match="not a sms provider"):
        adapters_from_settings(store)
