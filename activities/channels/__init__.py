"""Channel adapters, selected per channel name (``journeys.model.channels``)."""

from __future__ import annotations

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from activities.channels.outbox import OutboxAdapter
from journeys.model.channels import CHANNELS
from journeys.store import Store

__all__ = [
    "ChannelAdapter",
    "OutboxAdapter",
    "OutgoingMessage",
    "PermanentChannelError",
    "default_adapters",
]


def default_adapters(store: Store) -> dict[str, ChannelAdapter]:
    """The outbox for every channel: nothing leaves the machine until a provider is set."""
    outbox = OutboxAdapter(store)
    return dict.fromkeys(CHANNELS, outbox)
