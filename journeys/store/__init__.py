"""The database (SQLModel over SQLite or PostgreSQL): the engine, the tables, and one module
per concern: customers, ledger, consent, points, loyalty, event log and audiences, access
keys, funnels. ``Store`` is the public face.

May import ``model``, ``files``, ``process``, ``rendering``, ``loyalty`` and ``delivery``;
never ``authoring``, which stands beside it.
"""

from journeys.store.records import Store

__all__ = ["Store"]
