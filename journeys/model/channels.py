"""The channels a journey can reach a customer on: the one table of what differs per channel.

Validation, rendering, delivery, consent, the API and the CLI all read it, so a channel is
added (or a profile field renamed) here once instead of in a dozen lists that drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    address_field: str  # the profile field holding the customer's address on this channel
    blocks: tuple[str, ...]  # the template blocks a message renders (each template defines all)
    messages: str  # what a customer reads on the unsubscribe page: "our marketing <emails>"
    hidden_address: str  # the address when it cannot be shown even masked: "this <device>"


SPECS: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        ChannelSpec("email", "email", ("subject", "html", "text"), "emails", "address"),
        ChannelSpec("sms", "phone", ("text",), "text messages", "number"),
        ChannelSpec("push", "push_token", ("title", "text"), "push notifications", "device"),
    )
}
CHANNELS = tuple(SPECS)

# Pydantic needs the names spelled out as a Literal; they must be the table's, in its order.
ChannelName = Literal["email", "sms", "push"]
if get_args(ChannelName) != CHANNELS:
    raise AssertionError(f"ChannelName {get_args(ChannelName)} is not the table's {CHANNELS}")
