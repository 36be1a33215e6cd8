"""The hand-written baseline: what a developer would write for one cart reminder, by hand."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from journeys.model import contracts as c
    from journeys.model.events import Event


@workflow.defn(name="BareCartReminder")
class BareCartReminder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    @workflow.signal(name="event")
    def on_event(self, event: Event) -> None:
        self.events.append(event)

    @workflow.run
    async def run(self, customer_id: str) -> str:
        await workflow.wait_condition(lambda: bool(self.events))
        await workflow.sleep(timedelta(hours=1))
        info = workflow.info()
        request = c.DeliverRequest(
            delivery_key=f"{info.workflow_id}/{info.run_id}/reminder",
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            scenario_id="bare-cart-reminder",
            step_id="reminder",
            channels=["email"],
            template="abandoned_cart/reminder",
            purpose="marketing",
            context=c.JourneyContext(
                customer_id=customer_id, event=self.events[0], now=workflow.now()
            ),
        )
        result = await workflow.execute_activity(
            c.DELIVER,
            request,
            result_type=c.DeliverResult,
            start_to_close_timeout=timedelta(minutes=1),
        )
        return result.status
