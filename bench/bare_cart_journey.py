"""The hand-written baseline of the three-send cart journey (scenarios/abandoned_cart.yaml):
what a developer would write by hand for it, with no funnel bookkeeping."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c
    from journeys.model.events import Event


@workflow.defn(name="BareCartJourney")
class BareCartJourney:
    def __init__(self) -> None:
        self.events: list[Event] = []

    @workflow.signal(name="event")
    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def _ordered(self) -> bool:
        return any(e.name in ("order.completed", "cart.emptied") for e in self.events)

    @workflow.run
    async def run(self, customer_id: str) -> str:
        await workflow.wait_condition(lambda: bool(self.events))
        trigger = self.events[0]
        if not float(trigger.properties.get("cart_total") or 0) > 0:
            return "not entered"
        await workflow.sleep(timedelta(hours=1))
        await self._send(customer_id, trigger, "reminder", ["email"], "abandoned_cart/reminder")
        try:
            await workflow.wait_condition(self._ordered, timeout=timedelta(hours=23))
            return "ordered"
        except TimeoutError:
            pass
        if float(trigger.properties["cart_total"]) >= 100:  # deliver checks the sms consent
            await self._send(customer_id, trigger, "sms-nudge", ["sms"], "abandoned_cart/nudge")
        await workflow.sleep(timedelta(days=2))
        channels = ["push", "email"]
        return await self._send(
            customer_id, trigger, "last-chance", channels, "abandoned_cart/last_chance"
        )

    async def _send(
        self, customer_id: str, trigger: Event, step: str, channels: list[str], template: str
    ) -> str:
        info = workflow.info()
        request = c.DeliverRequest(
            delivery_key=f"{info.workflow_id}/{info.run_id}/{step}",
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            scenario_id="bare-cart-journey",
            step_id=step,
            channels=channels,  # type: ignore[arg-type]
            template=template,
            purpose="marketing",
            context=c.JourneyContext(customer_id=customer_id, event=trigger, now=workflow.now()),
        )
        result = await workflow.execute_activity(
            c.DELIVER,
            request,
            result_type=c.DeliverResult,
            start_to_close_timeout=timedelta(minutes=1),
        )
        return result.status
