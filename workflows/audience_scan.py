"""AudienceScanWorkflow: a scheduled scenario's run, from its audience to started journeys.

The audience is read a page at a time by an activity that also starts that page's
journeys, so a scan of a million customers holds one page in memory and its history grows
by one activity per page (continue-as-new when the server suggests it). ``at`` is fixed
when the scan starts: every page sees the same "today".
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from journeys.model import scan_contracts as sc

PAGE = {
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(minutes=1),
    # Bounded: a scan that cannot finish fails, and the next scheduled one starts afresh.
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20),
}


@workflow.defn(name="AudienceScanWorkflow")
class AudienceScanWorkflow:
    @workflow.init
    def __init__(self, input: sc.ScanInput) -> None:
        self.progress = input.progress or sc.ScanProgress(
            scenario_id=input.scenario_id, at=input.at or workflow.now()
        )

    @workflow.query(name="progress")
    def get_progress(self) -> sc.ScanProgress:
        return self.progress

    @workflow.run
    async def run(self, input: sc.ScanInput) -> sc.ScanProgress:
        p = self.progress
        while not p.done:
            request = sc.ScanPageRequest(
                scenario_id=p.scenario_id, at=p.at, cursor=p.cursor, limit=input.page_size
            )
            page = await workflow.execute_activity(
                sc.SCAN_AUDIENCE_PAGE, request, result_type=sc.ScanPageResult, **PAGE
            )
            p.pages += 1
            p.members += page.members
            p.started += page.started
            p.cursor = page.cursor
            p.done = not page.cursor
            if not p.done and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(input.model_copy(update={"progress": p}))
        workflow.logger.info(
            "scan of %s done: %d pages, %d members, %d started",
            p.scenario_id,
            p.pages,
            p.members,
            p.started,
        )
        return p
