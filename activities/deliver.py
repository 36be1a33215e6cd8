"""The deliver activity: consent, reachability, rendering and an exactly-once send.

Exactly-once *effect* over at-least-once activity execution comes from the delivery ledger
(one row per delivery_key and channel) plus an adapter that is idempotent on the key:

* a ``sent`` row for the key → the activity returns it and sends nothing;
* a ``reserved`` row → an earlier attempt may have reached the provider, so this attempt
  finishes *that* channel (same key, the adapter dedupes) and never falls back to another;
* otherwise the channels are tried in order, each decision written to the ledger.

Database and rendering work runs in threads (``asyncio.to_thread``) because the activity
is async and must not block the worker's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, NoReturn, cast

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from journeys.context import build_context
from journeys.contracts import DELIVER, ChannelDecision, DeliverRequest, DeliverResult
from journeys.scenario import Channel
from journeys.store import Delivery, Store, blank_customer
from journeys.templating import RenderedMessage, Templates

RESERVED = "reserved"
SENT = "sent"
NO_CONSENT = "suppressed:no-consent"
UNREACHABLE = "suppressed:unreachable"
# The profile field that holds a channel's address.
ADDRESS_FIELD = {"email": "email", "sms": "phone", "push": "push_token"}


def blocked(
    channel: str, customer: Mapping[str, Any], check_consent: bool
) -> tuple[str, str] | None:
    """Why a channel cannot be used for this customer, as (status, reason), or None.

    Consent is required whatever the purpose: transactional messages also need the
    channel's consent flag for now (until consent is modelled per purpose, we err on the
    side of not sending).
    """
    field = ADDRESS_FIELD[channel]
    if not customer.get(field):
        return UNREACHABLE, f"no {field} on file"
    if check_consent and not customer.get("consent", {}).get(channel):
        return NO_CONSENT, f"no {channel} consent"
    return None


class DeliveryActivities:
    """Holds the store, templates and adapters one worker shares across activity calls."""

    def __init__(
        self, store: Store, templates: Templates, adapters: Mapping[str, ChannelAdapter]
    ) -> None:
        self.store = store
        self.templates = templates
        self.adapters = dict(adapters)

    @activity.defn(name=DELIVER)
    async def deliver(self, request: DeliverRequest) -> DeliverResult:
        rows = await asyncio.to_thread(self.store.deliveries_for_key, request.delivery_key)
        if any(row.status == SENT for row in rows):
            return _result_from_ledger(request, rows)
        customer_id = request.context.customer_id
        customer = await asyncio.to_thread(self.store.get_customer, customer_id)
        customer = customer or blank_customer(customer_id)

        reserved = next((row for row in rows if row.status == RESERVED), None)
        if reserved is not None:
            # Consent was checked when the row was reserved; the send may already be out.
            channels: list[Channel] = [cast(Channel, reserved.channel)]
            decisions = [_decision(row) for row in rows if row.channel != reserved.channel]
        else:
            channels, decisions = list(request.channels), []

        for channel in channels:
            refusal = blocked(channel, customer, check_consent=reserved is None)
            if refusal is not None:
                status, reason = refusal
                await self._record(request, channel, status, reason)
                decisions.append(ChannelDecision(channel=channel, status=status, reason=reason))
                continue
            message_id = await self._send(request, channel, customer)
            decisions.append(ChannelDecision(channel=channel, status=SENT))
            return DeliverResult(
                status="sent", channel=channel, message_id=message_id, decisions=decisions
            )
        activity.logger.info("delivery %s suppressed on every channel", request.delivery_key)
        return DeliverResult(status="suppressed", decisions=decisions)

    async def _send(self, request: DeliverRequest, channel: str, customer: dict[str, Any]) -> str:
        """Reserve → render → adapter → sent. Failures that retrying cannot fix are final."""
        adapter = self.adapters.get(channel)
        if adapter is None:
            await self._fail(request, channel, "no-adapter", f"no adapter configured for {channel}")
        await self._record(request, channel, RESERVED)
        try:
            rendered = await asyncio.to_thread(self._render, request, channel, customer)
        except Exception as err:  # Jinja raises many types; none is fixed by a retry
            reason = f"template '{request.template}' ({channel}) cannot be rendered: {err}"
            await self._fail(request, channel, "render", reason)
        message = OutgoingMessage(
            delivery_key=request.delivery_key,
            channel=channel,
            recipient=str(customer[ADDRESS_FIELD[channel]]),
            customer_id=request.context.customer_id,
            scenario_id=request.scenario_id,
            step_id=request.step_id,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            locale=rendered.locale,
            template_file=rendered.template_file,
            journey_time=request.context.now,
        )
        try:
            message_id = await adapter.send(message)
        except PermanentChannelError as err:
            await self._fail(request, channel, "adapter", f"{channel} provider refused: {err}")
        except ApplicationError as err:
            if err.non_retryable:
                await self._fail(request, channel, "adapter", f"{channel} provider refused: {err}")
            raise
        # Any other exception is transient: the row stays reserved and Temporal retries.
        await self._record(request, channel, SENT, provider_message_id=message_id)
        return message_id

    def _render(
        self, request: DeliverRequest, channel: str, customer: dict[str, Any]
    ) -> RenderedMessage:
        ctx = request.context
        context = build_context(customer, ctx.event, ctx.now, ctx.last_event)
        return self.templates.render(request.template, channel, customer.get("locale"), context)

    async def _record(
        self,
        request: DeliverRequest,
        channel: str,
        status: str,
        reason: str = "",
        provider_message_id: str | None = None,
    ) -> None:
        row = Delivery(
            delivery_key=request.delivery_key,
            channel=channel,
            status=status,
            reason=reason,
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            scenario_id=request.scenario_id,
            step_id=request.step_id,
            customer_id=request.context.customer_id,
            template=request.template,
            provider_message_id=provider_message_id,
        )
        await asyncio.to_thread(self.store.record_delivery, row)

    async def _fail(
        self, request: DeliverRequest, channel: str, kind: str, reason: str
    ) -> NoReturn:
        """Writes ``failed:<kind>`` to the ledger and fails the activity for good."""
        await self._record(request, channel, f"failed:{kind}", reason)
        raise ApplicationError(reason, type=f"DeliveryFailed:{kind}", non_retryable=True)


def _decision(row: Delivery) -> ChannelDecision:
    return ChannelDecision.model_validate(
        {"channel": row.channel, "status": row.status, "reason": row.reason}
    )


def _result_from_ledger(request: DeliverRequest, rows: list[Delivery]) -> DeliverResult:
    """The answer of the attempt that sent, rebuilt from the ledger (no send happens)."""
    order: dict[str, int] = {channel: index for index, channel in enumerate(request.channels)}
    rows = sorted(rows, key=lambda row: order.get(row.channel, len(order)))
    sent = next(row for row in rows if row.status == SENT)
    return DeliverResult.model_validate(
        {
            "status": "sent",
            "channel": sent.channel,
            "message_id": sent.provider_message_id,
            "decisions": [_decision(row) for row in rows],
        }
    )
