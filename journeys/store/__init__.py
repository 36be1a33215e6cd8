"""The database (SQLModel over SQLite or PostgreSQL): the engine, the tables, and one part
per concern: customers, consent, ledger, outbox, journeys, events, audiences, points,
loyalty, referrals, access keys, program KPIs. ``Store`` (``journeys.store.store``)
composes them and is the public face.

Every part works the same way, on SQLite by default and PostgreSQL in production: only
portable SQL is used (no ``ON CONFLICT``), and races on unique keys are settled by
catching ``IntegrityError`` and reading the row that won. Activities call the parts
through ``asyncio.to_thread``: every method opens and closes its own short session.

May import ``model``, ``files``, ``process``, ``rendering``, ``loyalty`` and ``delivery``;
never ``authoring``, which stands beside it.
"""

from journeys.store.store import Store

__all__ = ["Store"]
