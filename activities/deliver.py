"""The deliver activity: reachability, suppression, consent, rendering and an exactly-once send.

Exactly-once *effect* over at-least-once activity execution comes from the delivery ledger
(one row per delivery_key and channel) plus an adapter that is idempotent on the key:

* a ``sent`` row for the key → the activity returns it and sends nothing;
* a ``reserved`` row → an earlier attempt may have reached the provider, so this attempt
  finishes *that* channel: same key, the recipient stored on the row, no new consent or
  address check (the message may be out already; the adapter dedupes on the key). The
  channels before it keep their recorded decisions;
* a ``failed:*`` row → the provider refused that channel for good: it is not called again;
* otherwise the channels are tried in order, each decision written to the ledger. A
  channel in its quiet hours (customer's time zone) defers the whole send: the journey
  waits for the window and calls again; it does not fall back to another channel.

A permanent refusal on one channel (a bounced address, Twilio's "invalid number") falls
back to the next channel, like an unreachable one. When no channel sent and at least one
was refused, the activity fails for good: the journey records a failed message, which
tells the marketer more than "suppressed" would.

Database work runs in threads (``asyncio.to_thread``; one hop for all the reads, as each
hop costs about a millisecond) because the activity must not block the worker's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from activities.heartbeat import keep_alive
from activities.ledger import (
    ADDRESS_FIELD,
    decision,
    is_reserved,
    reserved_recipient,
    result_from_ledger,
)
from journeys.context import build_context
from journeys.contracts import DELIVER, ChannelDecision, DeliverRequest, DeliverResult
from journeys.governance import Governance
from journeys.metrics import DELIVERIES
from journeys.store import RESERVED, SENT, Delivery, Store, blank_customer, customer_context
from journeys.templating import LOYALTY_NAMES, RenderedMessage, Templates

NO_CONSENT = "suppressed:no-consent"
DEFERRED = "deferred:quiet-hours"
CAPPED = "suppressed:capped"
UNREACHABLE = "suppressed:unreachable"
SUPPRESSED = "suppressed:suppression-list"
REFUSED = "failed:adapter"


def blocked(
    channel: str,
    customer: Mapping[str, Any],
    purpose: str = "marketing",
    suppressed: Collection[str] = (),
) -> tuple[str, str] | None:
    """Why a channel cannot be used for this customer, as (status, reason), or None.

    In this order: the channel needs an address (``suppressed:unreachable``); the address
    must not be on the suppression list (``suppressed:suppression-list``; ``suppressed``
    holds the channels whose current address is listed) — a hard bounce or a spam complaint
    blocks every purpose and wins over consent; and a **marketing** message needs the
    channel's consent flag (``suppressed:no-consent``). Consent is marketing consent: a
    transactional message (an order confirmation, a password reset) needs an address that
    is reachable and not suppressed, not the opt-in an unsubscribe link withdraws.

    Only asked before a reservation: a reserved send is finished whatever the profile says
    now.
    """
    field = ADDRESS_FIELD[channel]
    address = customer.get(field)
    if not address:
        return UNREACHABLE, f"no {field} on file"
    if channel in suppressed:
        return SUPPRESSED, f"{address} is on the {channel} suppression list"
    if purpose != "transactional" and not customer.get("consent", {}).get(channel):
        return NO_CONSENT, f"no {channel} consent"
    return None


class DeliveryActivities:
    """Holds the store, templates and adapters one worker shares across activity calls."""

    def __init__(
        self,
        store: Store,
        templates: Templates,
        adapters: Mapping[str, ChannelAdapter],
        governance: Governance | None = None,
    ) -> None:
        self.store = store
        self.templates = templates
        self.adapters = dict(adapters)
        governance = governance or Governance.off()
        self.quiet_hours = governance.quiet_hours
        self.cap = governance.cap

    @activity.defn(name=DELIVER)
    async def deliver(self, request: DeliverRequest) -> DeliverResult:
        try:
            result = await self._deliver(request)
        except _SentElsewhere:
            rows = await asyncio.to_thread(self.store.deliveries_for_key, request.delivery_key)
            return result_from_ledger(request, rows)
        for made in result.decisions:
            DELIVERIES.labels(made.channel, made.status.partition(":")[0]).inc()
        return result

    async def _deliver(self, request: DeliverRequest) -> DeliverResult:
        rows, customer, loyalty, suppressed = await asyncio.to_thread(self._load, request)
        if any(row.status == SENT for row in rows):
            return result_from_ledger(request, rows)
        ledger = {row.channel: row for row in rows}
        start = _resume_at(request, ledger)
        decisions = [decision(ledger[c]) for c in request.channels[:start] if c in ledger]
        for channel in request.channels[start:]:
            row = ledger.get(channel)
            if row is not None and row.status.startswith("failed:"):
                decisions.append(decision(row))  # refused for good: never called again
                continue
            if row is not None and row.status == RESERVED:
                recipient = reserved_recipient(row, customer)
            else:
                refusal = blocked(channel, customer, request.purpose, suppressed)
                if refusal is not None:
                    status, reason = refusal
                    await self._record(request, channel, status, reason)
                    decisions.append(ChannelDecision(channel=channel, status=status, reason=reason))
                    continue
                recipient = str(customer[ADDRESS_FIELD[channel]])
                opening = self.quiet_hours.next_opening(
                    channel, request.purpose, request.context.now, customer["time_zone"]
                )
                if opening is not None:
                    reason = f"quiet hours in {customer['time_zone']} until {opening.isoformat()}"
                    await self._record(request, channel, DEFERRED, reason)
                    decisions.append(
                        ChannelDecision(channel=channel, status=DEFERRED, reason=reason)
                    )
                    return DeliverResult(
                        status="deferred", channel=channel, retry_at=opening, decisions=decisions
                    )
            try:
                message_id = await self._send(request, channel, recipient, customer, loyalty)
            except _Capped as capped:
                decisions.append(
                    ChannelDecision(channel=channel, status=CAPPED, reason=str(capped))
                )
                return DeliverResult(status="suppressed", decisions=decisions)
            except _Refused as refused:
                decisions.append(
                    ChannelDecision(channel=channel, status=REFUSED, reason=str(refused))
                )
                continue
            decisions.append(ChannelDecision(channel=channel, status=SENT))
            return DeliverResult(
                status="sent", channel=channel, message_id=message_id, decisions=decisions
            )
        refusals = [d.reason for d in decisions if d.status.startswith("failed:")]
        if refusals:
            raise ApplicationError(
                "; ".join(refusals), type="DeliveryFailed:adapter", non_retryable=True
            )
        activity.logger.info("delivery %s suppressed on every channel", request.delivery_key)
        return DeliverResult(status="suppressed", decisions=decisions)

    def _load(
        self, request: DeliverRequest
    ) -> tuple[list[Delivery], dict[str, Any], dict[str, Any], set[str]]:
        """Ledger rows, customer, loyalty snapshot and suppressions in one thread hop (each
        hop costs ~1 ms) and, but for the snapshot, one transaction."""
        customer_id = request.context.customer_id
        rows, row, suppressed = self.store.delivery_inputs(
            request.delivery_key,
            customer_id,
            lambda customer: {c: getattr(customer, ADDRESS_FIELD[c]) for c in request.channels},
        )
        if any(r.status == SENT for r in rows):
            return rows, {}, {}, set()
        customer = customer_context(row) if row is not None else blank_customer(customer_id)
        loyalty: dict[str, Any] = {}
        if self.templates.variables(request.template, request.channels) & LOYALTY_NAMES:
            loyalty = self.store.loyalty_snapshot(customer_id, request.context.now)
        return rows, customer, loyalty, suppressed

    async def _send(
        self,
        request: DeliverRequest,
        channel: str,
        recipient: str,
        customer: dict[str, Any],
        loyalty: dict[str, Any],
    ) -> str:
        """Reserve → render → adapter → sent; returns the provider message id.

        A provider's permanent refusal is recorded and raised as ``_Refused`` (the caller
        falls back); other failures that retrying cannot fix fail the activity for good;
        anything else leaves the row reserved and Temporal retries.
        """
        adapter = self.adapters.get(channel)
        if adapter is None:
            await self._fail(request, channel, "no-adapter", f"no adapter configured for {channel}")
        reserved = await self._reserve(request, channel, recipient)
        recipient = reserved.recipient or recipient  # an overlapping attempt's reservation wins
        try:
            rendered = self._render(request, channel, customer, loyalty)  # ~0.1 ms: no hop
        except Exception as err:  # Jinja raises many types; none is fixed by a retry
            reason = f"template '{request.template}' ({channel}) cannot be rendered: {err}"
            await self._fail(request, channel, "render", reason)
        message = OutgoingMessage(
            delivery_key=request.delivery_key,
            channel=channel,
            recipient=recipient,
            customer_id=request.context.customer_id,
            scenario_id=request.scenario_id,
            step_id=request.step_id,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            locale=rendered.locale,
            template_file=rendered.template_file,
            journey_time=request.context.now,
            purpose=request.purpose,
        )
        try:
            message_id = await keep_alive(adapter.send(message))
        except (PermanentChannelError, ApplicationError) as err:
            if isinstance(err, ApplicationError) and not err.non_retryable:
                raise
            reason = f"{channel} provider refused: {err}"
            await self._record(request, channel, REFUSED, reason)
            raise _Refused(reason) from err
        # Any other exception is transient: the row stays reserved and Temporal retries.
        await self._record(request, channel, SENT, provider_message_id=message_id)
        return message_id

    async def _reserve(self, request: DeliverRequest, channel: str, recipient: str) -> Delivery:
        """The ledger reservation; for marketing under a frequency cap, only if a slot is free."""
        if self.cap is None or request.purpose != "marketing":
            return await self._record(request, channel, RESERVED, recipient=recipient)
        row = self._row(request, channel, RESERVED, recipient=recipient)
        stored = await asyncio.to_thread(self.store.reserve_within_cap, row, self.cap)
        if stored is None:
            reason = f"frequency cap of {self.cap} marketing messages reached"
            await self._record(request, channel, CAPPED, reason)
            raise _Capped(reason)
        if stored.status == SENT:
            raise _SentElsewhere(channel)
        return stored

    def _render(
        self,
        request: DeliverRequest,
        channel: str,
        customer: dict[str, Any],
        loyalty: dict[str, Any],
    ) -> RenderedMessage:
        ctx = request.context
        context = build_context(customer, ctx.event, ctx.now, ctx.last_event, loyalty, ctx.vars)
        return self.templates.render(request.template, channel, customer.get("locale"), context)

    async def _record(
        self, request: DeliverRequest, channel: str, status: str, reason: str = "", **fields: Any
    ) -> Delivery:
        """Writes one ledger decision; raises ``_SentElsewhere`` if the row was already sent."""
        row = self._row(request, channel, status, reason, **fields)
        stored = await asyncio.to_thread(self.store.record_delivery, row)
        if stored.status == SENT and status != SENT:
            raise _SentElsewhere(channel)
        return stored

    @staticmethod
    def _row(
        request: DeliverRequest, channel: str, status: str, reason: str = "", **fields: Any
    ) -> Delivery:
        """The ledger row for this request; ``fields``: recipient, provider_message_id."""
        return Delivery(
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
            purpose=request.purpose,
            journey_time=request.context.now,
            **fields,
        )

    async def _fail(
        self, request: DeliverRequest, channel: str, kind: str, reason: str
    ) -> NoReturn:
        """Writes ``failed:<kind>`` to the ledger and fails the activity for good."""
        await self._record(request, channel, f"failed:{kind}", reason)
        raise ApplicationError(reason, type=f"DeliveryFailed:{kind}", non_retryable=True)


def _resume_at(request: DeliverRequest, ledger: Mapping[str, Delivery]) -> int:
    """A reserved channel is where the last attempt stopped: the ones before it are settled."""
    return next((i for i, c in enumerate(request.channels) if is_reserved(ledger, c)), 0)


class _Capped(Exception):
    """The customer's frequency cap is reached (already recorded): nothing goes out."""


class _Refused(Exception):
    """The provider refused this channel for good (already recorded): try the next one."""


class _SentElsewhere(Exception):
    """The row was ``sent`` (by an overlapping attempt) when this attempt wrote to it."""
