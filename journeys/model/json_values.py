"""What a JSON value may hold to be stored and routed: one set of rules for every writer.

Event properties and profile attributes sent to the API, ``send-event --prop`` values and
the values an update step computes all end up in PostgreSQL JSON columns, in Temporal
payloads and in JSON logs, and each of those refuses some values Python holds happily:
NaN and Infinity (JSON has no such numbers), a NUL character (PostgreSQL's ``jsonb`` and
``text`` refuse it), an unpaired surrogate (not Unicode, so not UTF-8), and nesting past
``MAX_DEPTH`` (recursive encoders and readers). Checked before anything is written, so a
bad value is a clear message naming where it is, never a database error afterwards.

Pure: no I/O, no framework, so the API, the CLI and the activities can all use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32


def json_problem(value: Any) -> tuple[str, str] | None:
    """The first thing in ``value`` that cannot be stored and routed: (where, why), where
    is a dotted path (``cart.items[2].price``; empty for ``value`` itself)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return where, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, float) and not math.isfinite(item):
            return where, f"{item} is not a number JSON can carry (finite numbers only)"
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return where, problem
        elif isinstance(item, Mapping):
            for key, inner in reversed(list(item.items())):  # popped in order
                problem = text_problem(str(key))
                if problem:
                    return where, f"a key {problem}"
                stack.append((inner, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(item, list | tuple):
            for index, inner in reversed(list(enumerate(item))):
                stack.append((inner, f"{where}[{index}]", depth + 1))
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL, an unpaired surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return None
