"""The governance walk of a delivery attempt: every decision up to a reservation.

It reads what the attempt decides on (ledger rows, customer, suppressions, and the loyalty
snapshot when the template uses it), then walks the channels in order, writing each
decision to the ledger, until a channel is reserved (the deliver activity sends on it) or
the attempt is over: deferred for quiet hours, capped, or suppressed on every channel.

It is all store work, so the deliver activity runs it in one thread hop: a hop costs about
as much CPU as a ledger write on a busy worker (~0.3 ms), and a walk in separate hops made
three per message where two are enough (this walk, then marking the send). How a retry
resumes from the rows an earlier attempt wrote is told in ``activities.deliver``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.counter_reads import used_reads
from activities.ledger import decision, is_reserved, reserved_recipient, result_from_ledger
from journeys.delivery.governance import Governance
from journeys.loyalty.counters import CounterRule
from journeys.model.channels import SPECS
from journeys.model.contracts import ChannelDecision, DeliverRequest, DeliverResult
from journeys.rendering.templating import Templates
from journeys.store import Store
from journeys.store.tables import RESERVED, SENT, Delivery, blank_customer, customer_context

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
    field_name = SPECS[channel].address_field
    address = customer.get(field_name)
    if not address:
        return UNREACHABLE, f"no {field_name} on file"
    if channel in suppressed:
        return SUPPRESSED, f"{address} is on the {channel} suppression list"
    if purpose != "transactional" and not customer.get("consent", {}).get(channel):
        return NO_CONSENT, f"no {channel} consent"
    return None


@dataclass
class Plan:
    """Where a walk stopped: a final ``result``, or the channel at ``position`` reserved."""

    decisions: list[ChannelDecision]
    customer: dict[str, Any] = field(default_factory=dict)
    loyalty: dict[str, Any] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    ledger: dict[str, Delivery] = field(default_factory=dict)  # rows as the attempt began
    result: DeliverResult | None = None
    position: int = -1
    recipient: str = ""
    counters: dict[str, int] | None = None  # as ``activities.counter_reads`` read them


class DeliveryPlanner:
    """Synchronous: every method runs in a worker thread (it blocks on the store)."""

    def __init__(
        self,
        store: Store,
        templates: Templates,
        channels: Collection[str],
        governance: Governance,
        counters: Mapping[str, CounterRule] | None = None,
    ) -> None:
        """``counters``: ``loyalty.yaml``'s, for templates that read ``counters``."""
        self.store = store
        self.counters = dict(counters or {})
        self.templates = templates
        self.channels = frozenset(channels)  # those with an adapter
        self.quiet_hours = governance.quiet_hours
        self.cap = governance.cap

    def first(self, request: DeliverRequest) -> Plan:
        """Reads (one transaction), then walks from where an earlier attempt stopped."""
        customer_id = request.context.customer_id
        rows, row, suppressed = self.store.ledger.attempt_inputs(
            request.delivery_key,
            customer_id,
            lambda customer: {
                c: getattr(customer, SPECS[c].address_field) for c in request.channels
            },
        )
        if any(r.status == SENT for r in rows):
            return Plan(decisions=[], result=result_from_ledger(request, rows))
        customer = customer_context(row) if row is not None else blank_customer(customer_id)
        used = self.templates.variables(request.template, request.channels)
        customer, loyalty, counters = used_reads(
            self.store, self.counters, request.context, customer, used
        )
        ledger = {r.channel: r for r in rows}
        start = next((i for i, c in enumerate(request.channels) if is_reserved(ledger, c)), 0)
        settled = [decision(ledger[c]) for c in request.channels[:start] if c in ledger]
        plan = Plan(settled, customer, loyalty, suppressed, ledger, counters=counters)
        return self._walk(request, plan, start)

    def after_refusal(self, request: DeliverRequest, plan: Plan, reason: str) -> Plan:
        """Records the provider's refusal of the reserved channel and walks on to the next."""
        self._decide(request, plan, request.channels[plan.position], REFUSED, reason)
        return self._walk(request, plan, plan.position + 1)

    def _walk(self, request: DeliverRequest, plan: Plan, start: int) -> Plan:
        customer = plan.customer
        for position in range(start, len(request.channels)):
            channel = request.channels[position]
            row = plan.ledger.get(channel)
            if row is not None and row.status.startswith("failed:"):
                plan.decisions.append(decision(row))  # refused for good: never called again
                continue
            if row is not None and row.status == RESERVED:
                if row.provider_status:
                    return self._reported(request, plan, row)
                self._need_adapter(request, channel)
                plan.position, plan.recipient = position, reserved_recipient(row, customer)
                return plan
            refusal = blocked(channel, customer, request.purpose, plan.suppressed)
            if refusal is not None:
                status, reason = refusal
                self._decide(request, plan, channel, status, reason)
                continue
            recipient = str(customer[SPECS[channel].address_field])
            zone = customer["time_zone"]
            opening = self.quiet_hours.next_opening(
                channel, request.purpose, request.context.now, zone
            )
            if opening is not None:
                reason = f"quiet hours in {zone} until {opening.isoformat()}"
                self._decide(request, plan, channel, DEFERRED, reason)
                plan.result = DeliverResult(
                    status="deferred", channel=channel, retry_at=opening, decisions=plan.decisions
                )
                return plan
            self._need_adapter(request, channel)
            reserved = self._reserve(request, channel, recipient)
            if reserved is None:
                reason = f"frequency cap of {self.cap} marketing messages reached"
                self._decide(request, plan, channel, CAPPED, reason)
                plan.result = DeliverResult(status="suppressed", decisions=plan.decisions)
                return plan
            # An overlapping attempt's reservation wins: the message may be out to it.
            plan.position, plan.recipient = position, reserved.recipient or recipient
            return plan
        refusals = [d.reason for d in plan.decisions if d.status.startswith("failed:")]
        if refusals:
            raise ApplicationError(
                "; ".join(refusals), type="DeliveryFailed:adapter", non_retryable=True
            )
        activity.logger.info("delivery %s suppressed on every channel", request.delivery_key)
        plan.result = DeliverResult(status="suppressed", decisions=plan.decisions)
        return plan

    def _reported(self, request: DeliverRequest, plan: Plan, row: Delivery) -> Plan:
        """A reserved row the provider has reported on: it has the message.

        The attempt that sent it died after the provider accepted and before it could
        record the answer (a SIGKILLed worker); the provider's status webhook, which names
        the delivery key, got here first. Sending again would repeat the message on a
        provider without an idempotency key (Twilio, SendGrid), so the row is marked sent
        with the id the report carried.
        """
        message_id = row.provider_message_id or f"{row.channel}:{row.delivery_key}"
        reason = f"the provider reported it ({row.provider_status}) after the sending attempt died"
        self.record(request, row.channel, SENT, reason, provider_message_id=message_id)
        activity.logger.info(
            "delivery %s: %s already has it (%s), marked sent without sending again",
            request.delivery_key,
            row.channel,
            row.provider_status,
        )
        plan.decisions.append(ChannelDecision(channel=row.channel, status=SENT, reason=reason))
        plan.result = DeliverResult(
            status="sent", channel=row.channel, message_id=message_id, decisions=plan.decisions
        )
        return plan

    def _decide(
        self, request: DeliverRequest, plan: Plan, channel: str, status: str, reason: str
    ) -> None:
        """Records a channel's decision in the ledger and in the attempt's answer."""
        self.record(request, channel, status, reason)
        plan.decisions.append(ChannelDecision(channel=channel, status=status, reason=reason))

    def _need_adapter(self, request: DeliverRequest, channel: str) -> None:
        if channel not in self.channels:
            self.fail(request, channel, "no-adapter", f"no adapter configured for {channel}")

    def _reserve(self, request: DeliverRequest, channel: str, recipient: str) -> Delivery | None:
        """The ledger reservation; for marketing under a frequency cap, only if a slot is
        free (None when capped)."""
        if self.cap is None or request.purpose != "marketing":
            return self.record(request, channel, RESERVED, recipient=recipient)
        row = ledger_row(request, channel, RESERVED, recipient=recipient)
        stored = self.store.ledger.reserve_within_cap(row, self.cap)
        if stored is not None and stored.status == SENT:
            raise SentElsewhere(channel)
        return stored

    def record(
        self, request: DeliverRequest, channel: str, status: str, reason: str = "", **fields: Any
    ) -> Delivery:
        """Writes one ledger decision; raises ``SentElsewhere`` if the row was already sent."""
        stored = self.store.ledger.record(ledger_row(request, channel, status, reason, **fields))
        if stored.status == SENT and status != SENT:
            raise SentElsewhere(channel)
        return stored

    def fail(self, request: DeliverRequest, channel: str, kind: str, reason: str) -> NoReturn:
        """Writes ``failed:<kind>`` to the ledger and fails the activity for good."""
        self.record(request, channel, f"failed:{kind}", reason)
        raise ApplicationError(reason, type=f"DeliveryFailed:{kind}", non_retryable=True)


def ledger_row(
    request: DeliverRequest, channel: str, status: str, reason: str = "", **fields: Any
) -> Delivery:
    """The ledger row for this request; ``fields``: recipient, provider_message_id."""
    return Delivery(
        delivery_key=request.delivery_key,
        channel=channel,
        status=status,
        reason=reason,
        workflow_id=request.workflow_id,
        entry_id=request.entry_id or None,
        run_id=request.run_id,
        scenario_id=request.scenario_id,
        step_id=request.step_id,
        customer_id=request.context.customer_id,
        template=request.template,
        purpose=request.purpose,
        journey_time=request.context.now,
        **fields,
    )


class SentElsewhere(Exception):
    """The row was ``sent`` (by an overlapping attempt) when this attempt wrote to it."""
