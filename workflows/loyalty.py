"""The loyalty program's durable runs: one per purchase, and the daily run.

A purchase is a workflow of its own (id ``purchase/<event id>``), so a purchase event
routed twice is applied once, and a database outage only delays the points: the activity
retries until it lands. The daily run settles points (pending → active, due → expired),
reviews tiers for downgrades and rescores RFM segments, a page at a time.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from journeys.model import scan_contracts as sc

STEP = {
    "start_to_close_timeout": timedelta(minutes=10),
    # Bounded: a run that cannot finish fails, and the next scheduled one starts afresh.
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=20),
}


@workflow.defn(name="PurchaseWorkflow")
class PurchaseWorkflow:
    @workflow.run
    async def run(self, input: sc.PurchaseInput) -> dict[str, object]:
        return await workflow.execute_activity(
            sc.APPLY_PURCHASE, input, result_type=dict[str, object], **STEP
        )


@workflow.defn(name="LoyaltyDailyWorkflow")
class LoyaltyDailyWorkflow:
    @workflow.run
    async def run(self, input: sc.DailyInput) -> sc.DailyReport:
        report = sc.DailyReport(at=input.at or workflow.now())
        settled = await workflow.execute_activity(
            sc.SETTLE_POINTS, report.at, result_type=list[int], **STEP
        )
        report.lots_activated, report.points_expired = settled
        cursor = ""
        while True:
            changes, cursor = await workflow.execute_activity(
                sc.REVIEW_TIERS_PAGE, args=[report.at, cursor], result_type=tuple[int, str], **STEP
            )
            report.tier_changes += changes
            if not cursor:
                break
        run_id = f"rfm/{report.at.date().isoformat()}"
        report.rfm_scored = await workflow.execute_activity(
            sc.SCORE_RFM, args=[report.at, run_id], result_type=int, **STEP
        )
        while True:
            changes, cursor = await workflow.execute_activity(
                sc.APPLY_RFM_PAGE, args=[run_id, cursor], result_type=tuple[int, str], **STEP
            )
            report.segment_changes += changes
            if not cursor:
                break
        workflow.logger.info("loyalty daily run: %s", report.model_dump_json())
        return report
