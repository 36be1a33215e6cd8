"""Bringing the system up: the runtime (embedded server or cluster, plus the worker),
``simulate`` in virtual time, and the driver that moves journeys with a movable clock.

Above ``worker.py``, ``activities`` and ``workflows``, which it may import; never ``api``
beside it, nor ``cli`` above.
"""
