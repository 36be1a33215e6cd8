"""Everything that talks to the Temporal server: connecting, the embedded dev server,
routing events to journeys (signal-with-start), the relay of the event log, schedules,
listing a customer's journeys, and ingesting one event.

May import the parts below (``store``, ``authoring`` and under); never ``customers`` beside it.
"""
