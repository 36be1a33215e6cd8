"""What every channel adapter receives and promises.

An adapter is a small class over one real protocol (SMTP, an HTTP email API, Twilio, FCM,
the outbox). The deliver activity owns consent, rendering and the ledger; an adapter only
turns one rendered message into one provider call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient on one channel.

    ``delivery_key`` is the idempotency key: the adapter passes it to the provider where
    the provider has such a field (or keeps its own record of it, like the outbox).
    For push, ``subject`` holds the notification title.
    """

    delivery_key: str
    channel: str
    recipient: str
    customer_id: str
    scenario_id: str
    step_id: str
    subject: str
    text: str
    html: str | None
    locale: str
    template_file: str
    journey_time: datetime  # the workflow's clock (virtual under time skipping)
    purpose: str = "marketing"  # marketing | transactional (unsubscribe headers, caps)


class PermanentChannelError(Exception):
    """The provider refused the message for good (bad address, rejected content).

    Raise it from an adapter when retrying cannot help; any other exception is treated
    as transient and the activity is retried with the same delivery_key.
    """


class ChannelAdapter(ABC):
    """Sends one message and returns the provider's message id.

    Contract: idempotent on ``message.delivery_key``. A second call with a key already
    sent must not produce a second message; it returns the first message's id. The
    deliver activity relies on this after a crash between the send and the ledger update.
    """

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> str:
        """Sends ``message`` (once per delivery_key) and returns the provider message id."""

    async def aclose(self) -> None:  # noqa: B027 (most adapters hold nothing)
        """Releases what the adapter holds (a pooled HTTP client); the worker that built it
        calls this once it has stopped. Safe to call more than once."""
