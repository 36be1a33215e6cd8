"""Which context names cost a read of their own: a template or expression that never
mentions them must not pay for them on the journey's hot path.

``points``, ``tier`` and ``segment`` come from the loyalty snapshot, ``counters`` from the
counter store when the trigger event does not carry them, and ``customer.badges`` from the
badge table. Jinja's ``meta.find_undeclared_variables`` only names top-level variables
(``customer``), so a read of ``customer.badges`` is found in the parsed tree and named
``"customer.badges"`` beside them.
"""

from __future__ import annotations

from jinja2 import nodes

COUNTERS = "counters"
BADGES = "customer.badges"


def attribute_reads(parsed: nodes.Node) -> set[str]:
    """``BADGES`` when the tree reads ``customer.badges`` or ``customer['badges']``."""
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == "customer"):
            continue
        key = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        if key == "badges":
            return {BADGES}
    return set()


def _constant(node: nodes.Node) -> object:
    return node.value if isinstance(node, nodes.Const) else None
