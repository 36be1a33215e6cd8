"""The process's wall clock, in aware UTC.

Here, under ``process`` and not in ``model``, because workflow code must never read it
(``workflow.now()`` is its clock) and the import rules keep ``process`` out of workflows.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
