"""Keys that name one journey entry, or one step of it, across customers (pure, no I/O).

A step key is the delivery ledger's key, an update's applied-once key and a points award's
source reference, so two customers must never share one. Ids may contain ``/`` and ``:``:
the first keys, ``<workflow id>/<entry id>/<step id>`` with a workflow id of
``journey/<scenario>/<customer>``, let customer ``kc/x`` with event ``e1`` and customer
``kc`` with event ``x/e1`` share a key (and each receive the other's message). Here each
part has ``%``, ``:`` and ``/`` percent-encoded, so a key names its parts unambiguously
(``urllib.parse.unquote`` reads them back); everything else is kept as it is, so a key of
non-ASCII ids stays as short as the ids (full percent-encoding would triple them, past
PostgreSQL's index row limit for two 200-character ids). The ``journey:`` prefix keeps
them apart from the first keys, which start with ``journey/`` and stay as they are in the
ledger for the journeys that made them.
"""

from __future__ import annotations

LEGACY = 1  # <workflow id>/<entry id>/<step id>: journeys that entered before structured keys
STRUCTURED = 2


def _part(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A").replace("/", "%2F")


def entry_key(scenario_id: str, customer_id: str, entry_id: str) -> str:
    """One entry of one customer's journey (the ``journey_entries`` row)."""
    return ":".join(("journey", _part(scenario_id), _part(customer_id), _part(entry_id)))


def step_key(scenario_id: str, customer_id: str, entry_id: str, step_id: str) -> str:
    """One step of one entry: ledger key, update key, points source reference."""
    return f"{entry_key(scenario_id, customer_id, entry_id)}:{_part(step_id)}"


def legacy_key(workflow_id: str, entry_id: str, step_id: str = "") -> str:
    """The first format, kept for entries that began with it (their ledger rows use it)."""
    return f"{workflow_id}/{entry_id}/{step_id}" if step_id else f"{workflow_id}/{entry_id}"


def key_for(
    key_format: int, workflow_id: str, scenario_id: str, customer_id: str, entry_id: str,
    step_id: str = "",
) -> str:  # fmt: skip
    """The entry's key (no ``step_id``) or a step's, in the format the entry began with."""
    if key_format == LEGACY:
        return legacy_key(workflow_id, entry_id, step_id)
    if step_id:
        return step_key(scenario_id, customer_id, entry_id, step_id)
    return entry_key(scenario_id, customer_id, entry_id)
