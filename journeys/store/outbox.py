"""The outbox: messages the embedded default channel keeps instead of sending, so what a
journey would have sent can be read back (``journeys outbox``, tests, the demo)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from journeys.store.engine import Database
from journeys.store.tables import OutboxMessage


class Outbox:
    def __init__(self, database: Database) -> None:
        self._database = database

    def insert(self, message: OutboxMessage) -> OutboxMessage:
        """Stores a message once per delivery_key; a repeat returns the row already there."""
        with self._database.session() as session:
            query = select(OutboxMessage).where(OutboxMessage.delivery_key == message.delivery_key)
            existing = session.exec(query).first()
            if existing is not None:
                return existing
            session.add(message)
            try:
                session.commit()
                return message
            except IntegrityError:
                session.rollback()
                existing = session.exec(query).first()
                assert existing is not None, "the conflicting outbox row must exist"
                return existing

    def latest(self, limit: int = 20, customer_id: str | None = None) -> list[OutboxMessage]:
        """Newest first: what a user checks right after triggering a journey."""
        with self._database.session() as session:
            query = select(OutboxMessage)
            if customer_id is not None:
                query = query.where(OutboxMessage.customer_id == customer_id)
            query = query.order_by(col(OutboxMessage.id).desc()).limit(limit)
            return list(session.exec(query).all())

    def for_customer(self, customer_id: str) -> list[OutboxMessage]:
        """Oldest first: one customer's messages in the order the journey sent them."""
        with self._database.session() as session:
            query = select(OutboxMessage).where(OutboxMessage.customer_id == customer_id)
            return list(session.exec(query.order_by(col(OutboxMessage.id))).all())
