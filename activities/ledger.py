"""Reading the delivery ledger: what earlier attempts of a delivery decided.

The deliver activity consults these rows before doing anything, because an activity
attempt may be a retry (or may overlap a timed-out one) of a delivery partly done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.exceptions import ApplicationError

from journeys.model.channels import SPECS
from journeys.model.contracts import ChannelDecision, DeliverRequest, DeliverResult
from journeys.store.tables import RESERVED, SENT, Delivery


def is_reserved(ledger: Mapping[str, Delivery], channel: str) -> bool:
    row = ledger.get(channel)
    return row is not None and row.status == RESERVED


def reserved_recipient(row: Delivery, customer: Mapping[str, Any]) -> str:
    """Where a reserved send goes: the recipient stored on the row.

    Rows written before recipients were stored fall back to the current address; with
    none on file the delivery cannot be finished, and retrying will not change that.
    """
    recipient = row.recipient or customer.get(SPECS[row.channel].address_field)
    if not recipient:
        raise ApplicationError(
            f"{row.channel} delivery {row.delivery_key} was reserved without a recipient "
            "and none is on file any more",
            type="DeliveryFailed:no-recipient",
            non_retryable=True,
        )
    return str(recipient)


def decision(row: Delivery) -> ChannelDecision:
    return ChannelDecision.model_validate(
        {"channel": row.channel, "status": row.status, "reason": row.reason}
    )


def result_from_ledger(request: DeliverRequest, rows: list[Delivery]) -> DeliverResult:
    """The answer of the attempt that sent, rebuilt from the ledger (no send happens)."""
    order: dict[str, int] = {channel: index for index, channel in enumerate(request.channels)}
    rows = sorted(rows, key=lambda row: order.get(row.channel, len(order)))
    sent = next(row for row in rows if row.status == SENT)
    return DeliverResult.model_validate(
        {
            "status": "sent",
            "channel": sent.channel,
            "message_id": sent.provider_message_id,
            "decisions": [decision(row) for row in rows],
        }
    )
