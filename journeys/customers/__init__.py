"""Customer profiles and imports: the one way in for apps, the API and CSV/JSON Lines
files, with every field checked before anything is written. ``identify`` is the public face.

May import the parts below (``store``, ``authoring`` and under); never ``temporal`` beside it.
"""

from journeys.customers.profiles import identify

__all__ = ["identify"]
