"""Creating and updating customer profiles: the one way in for apps, imports and the API.

Every writer goes through ``identify`` so a profile is checked by the same rules whatever
sent it (``check_profile_value``, the rules ``journeys validate`` applies to scenarios), and
a consent flag never changes without the ``ConsentChange`` that proves who changed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeys.model.profile import PROFILE_FIELDS, check_profile_value
from journeys.store import Store

# Names an attribute may not take: the context shows the profile field, never the attribute.
_NOT_ATTRIBUTES = frozenset((*PROFILE_FIELDS, "id"))


class ProfileError(ValueError):
    """One value that cannot be stored, named by its field, with the sentence that says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class CheckedProfile:
    """A profile sorted into columns and attributes, with every problem found on the way."""

    columns: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    problems: list[ProfileError] = field(default_factory=list)


def check_profile(customer_id: Any, profile: Mapping[str, Any]) -> CheckedProfile:
    """Sorts and checks a profile without writing anything.

    Collects every problem rather than stopping at the first, so an import can list all
    of a row's mistakes in one go. Keys: ``PROFILE_FIELDS`` go to their columns (``None``
    or ``""`` clears one), ``attributes`` (a mapping) is merged into the attributes, and
    any other key is an attribute too (a CSV column ``first_name`` becomes
    ``customer.first_name``); a top-level key wins over the same key in ``attributes``.
    """
    checked = CheckedProfile()
    if not isinstance(customer_id, str) or not customer_id.strip():
        checked.problems.append(ProfileError("id", "every customer needs an id (text)"))
    nested = profile.get("attributes")
    if nested is not None and not isinstance(nested, Mapping):
        checked.problems.append(
            ProfileError("attributes", f"must map names to values, not {nested!r}")
        )
    elif nested:
        for name, value in nested.items():
            _check_attribute(checked, str(name), value, nested=True)
    for name, value in profile.items():
        if name == "attributes":
            continue
        if name == "id":
            if value != customer_id:
                checked.problems.append(
                    ProfileError("id", f"{value!r} is not the customer's id {customer_id!r}")
                )
        elif name in PROFILE_FIELDS:
            try:
                checked.columns[name] = check_profile_value(name, value)
            except ValueError as err:
                checked.problems.append(ProfileError(name, _without_name(name, str(err))))
        else:
            _check_attribute(checked, str(name), value, nested=False)
    return checked


def identify(
    store: Store,
    customer_id: str,
    profile: Mapping[str, Any],
    *,
    source: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Creates or updates a customer; returns its context shape (``customer`` in templates).

    ``source`` names who changed consent (``app``, ``import:customers.csv``) for the
    consent log, and ``at`` when (default: now). A bad value raises ``ProfileError`` for
    the first problem found, before anything is written.
    """
    checked = check_profile(customer_id, profile)
    if checked.problems:
        raise checked.problems[0]
    return store.customers.identify(
        customer_id,
        profile=checked.columns,
        attributes=checked.attributes,
        source=source,
        at=at,
    )


def _check_attribute(checked: CheckedProfile, name: str, value: Any, *, nested: bool) -> None:
    if not name.strip():
        checked.problems.append(ProfileError("attributes", "an attribute needs a name"))
        return
    if nested and name in _NOT_ATTRIBUTES:
        message = f"'{name}' is a profile field: set it beside attributes, not inside"
        checked.problems.append(ProfileError(f"attributes.{name}", message))
        return
    try:  # stored in a JSON column: anything else would fail only at commit, unnamed
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        checked.problems.append(
            ProfileError(name, f"{value!r} is not a JSON value (text, number, list, object)")
        )
        return
    checked.attributes[name] = value


def _without_name(name: str, message: str) -> str:
    """``birthday: birthday 'x' is not a date`` reads as ``birthday: 'x' is not a date``."""
    return message[len(name) + 1 :] if message.startswith(f"{name} ") else message
