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

Database work runs in threads because the activity must not block the worker's event
loop: one hop for the governance walk up to the reservation (``activities.delivery_plan``),
one to mark the send, as each hop costs about as much CPU as a ledger write. The journey's
funnel facts it carries (``workflows.facts``) ride along: the held ones in the first hop,
the entry's end (a last step's send) in one more with the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels.base import ChannelAdapter, OutgoingMessage, PermanentChannelError
from activities.delivery_plan import (
    REFUSED,
    DeliveryPlanner,
    Plan,
    SentElsewhere,
    blocked,
)
from activities.heartbeat import keep_alive
from activities.ledger import result_from_ledger
from journeys.delivery.governance import Governance
from journeys.delivery.surveys import link_maker
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.loyalty.counters import CounterRule
from journeys.model.contracts import DELIVER, ChannelDecision, DeliverRequest, DeliverResult
from journeys.process.metrics import DELIVERIES
from journeys.rendering.context import build_context
from journeys.rendering.templating import RenderedMessage, Templates
from journeys.store import Store
from journeys.store.tables import SENT
from journeys.store.tracking_tables import JourneyFact

__all__ = ["REFUSED", "DeliveryActivities", "blocked"]


class DeliveryActivities:
    """Holds the store, templates and adapters one worker shares across activity calls."""

    def __init__(
        self,
        store: Store,
        templates: Templates,
        adapters: Mapping[str, ChannelAdapter],
        governance: Governance | None = None,
        links: UnsubscribeSettings | None = None,
        counters: Mapping[str, CounterRule] | None = None,
    ) -> None:
        self.store = store
        self.links = links  # signs survey answer links (journeys.delivery.surveys)
        self.templates = templates
        self.adapters = dict(adapters)
        self.planner = DeliveryPlanner(
            store, templates, self.adapters, governance or Governance.off(), counters
        )

    @activity.defn(name=DELIVER)
    async def deliver(self, request: DeliverRequest) -> DeliverResult:
        try:
            result = await self._deliver(request)
        except SentElsewhere:
            rows = await asyncio.to_thread(self.store.ledger.for_key, request.delivery_key)
            return await self._record_end(request, result_from_ledger(request, rows))
        for made in result.decisions:
            DELIVERIES.labels(made.channel, made.status.partition(":")[0]).inc()
        return await self._record_end(request, result)

    async def _record_end(self, request: DeliverRequest, result: DeliverResult) -> DeliverResult:
        """The journey's end carried by the request (``workflows.facts``), written with a
        final result; a deferred send is tried again later, and the end with it."""
        if result.status == "deferred" or not (request.facts or request.end):
            return result
        if request.end:
            fact = JourneyFact(**request.end.model_dump())
            await asyncio.to_thread(self.store.journeys.record_facts, [fact])
        return result.model_copy(update={"facts_recorded": True})

    def _first(self, request: DeliverRequest) -> Plan:
        """The facts the journey held back (they happened before this send), then the plan:
        one thread hop."""
        if request.facts:
            facts = [JourneyFact(**fact.model_dump()) for fact in request.facts]
            self.store.journeys.record_facts(facts)
        return self.planner.first(request)

    async def _deliver(self, request: DeliverRequest) -> DeliverResult:
        plan = await asyncio.to_thread(self._first, request)
        while plan.result is None:
            channel = request.channels[plan.position]
            try:
                message_id = await self._send(request, channel, plan)
            except _Refused as refused:  # a permanent refusal: fall back to the next channel
                plan = await asyncio.to_thread(
                    self.planner.after_refusal, request, plan, str(refused)
                )
                continue
            plan.decisions.append(ChannelDecision(channel=channel, status=SENT))
            return DeliverResult(
                status="sent", channel=channel, message_id=message_id, decisions=plan.decisions
            )
        return plan.result

    async def _send(self, request: DeliverRequest, channel: str, plan: Plan) -> str:
        """Render → adapter → sent, on the reserved channel; returns the provider message id.

        A provider's permanent refusal is raised as ``_Refused`` (the caller records it and
        falls back); other failures that retrying cannot fix fail the activity for good;
        anything else leaves the row reserved and Temporal retries.
        """
        try:
            rendered = self._render(request, channel, plan)  # ~0.1 ms: no hop
        except Exception as err:  # Jinja raises many types; none is fixed by a retry
            reason = f"template '{request.template}' ({channel}) cannot be rendered: {err}"
            await asyncio.to_thread(self.planner.fail, request, channel, "render", reason)
        message = OutgoingMessage(
            delivery_key=request.delivery_key,
            channel=channel,
            recipient=plan.recipient,
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
            message_id = await keep_alive(self.adapters[channel].send(message))
        except (PermanentChannelError, ApplicationError) as err:
            if isinstance(err, ApplicationError) and not err.non_retryable:
                raise
            raise _Refused(f"{channel} provider refused: {err}") from err
        # Any other exception is transient: the row stays reserved and Temporal retries.
        await asyncio.to_thread(
            self.planner.record, request, channel, SENT, provider_message_id=message_id
        )
        return message_id

    def _render(self, request: DeliverRequest, channel: str, plan: Plan) -> RenderedMessage:
        ctx = request.context
        customer = plan.customer
        context = build_context(
            customer,
            ctx.event,
            ctx.now,
            ctx.last_event,
            plan.loyalty,
            ctx.vars,
            plan.counters,
            ctx.coupon,
        )
        # Signed answer links, one invitation per journey entry (an entry from before
        # entry ids were sent: its delivery key, unique per send); issued at the journey's
        # clock, so a retried render gives the same links. Signed only when called.
        context["survey_url"] = link_maker(
            self._link_settings,
            ctx.customer_id,
            request.scenario_id,
            request.entry_id or request.delivery_key,
            ctx.now,
        )
        return self.templates.render(request.template, channel, customer.get("locale"), context)

    def _link_settings(self) -> UnsubscribeSettings:
        """The signed-link settings, read from the environment at the first survey link
        when the worker was not given them: a worker whose messages carry none needs no
        secret key."""
        if self.links is None:
            self.links = UnsubscribeSettings()
        return self.links


class _Refused(Exception):
    """The provider refused this channel for good: record it and try the next one."""
