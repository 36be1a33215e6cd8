"""The embedded default channel: messages are stored, not sent.

A new user sees exactly what would have gone out (``journeys outbox``), and tests read
the same table. The unique ``delivery_key`` column makes the adapter idempotent.
"""

from __future__ import annotations

import asyncio

from activities.channels.base import ChannelAdapter, OutgoingMessage
from journeys.store import Store
from journeys.store.tables import OutboxMessage


class OutboxAdapter(ChannelAdapter):
    def __init__(self, store: Store) -> None:
        self.store = store

    async def send(self, message: OutgoingMessage) -> str:
        row = OutboxMessage(
            delivery_key=message.delivery_key,
            customer_id=message.customer_id,
            scenario_id=message.scenario_id,
            step_id=message.step_id,
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            text=message.text,
            html=message.html,
            locale=message.locale,
            template_file=message.template_file,
            journey_time=message.journey_time,
        )
        stored = await asyncio.to_thread(self.store.outbox.insert, row)
        return f"outbox-{stored.id}"
