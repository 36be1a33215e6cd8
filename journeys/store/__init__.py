"""The database (SQLModel over SQLite or PostgreSQL): the engine, the tables, and one part
per concern: customers, consent, ledger, outbox, journeys, events, audiences, points,
loyalty, access keys. ``Store`` (``journeys.store.store``) composes them and is the public
face.

May import ``model``, ``files``, ``process``, ``rendering``, ``loyalty`` and ``delivery``;
never ``authoring``, which stands beside it.
"""

from journeys.store.store import Store

__all__ = ["Store"]
