"""What a journey's Temporal history says about its workflow tasks."""

from __future__ import annotations

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import WorkflowHandle

UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND


async def task_failures(handle: WorkflowHandle[object, object]) -> int:
    """Workflow task failures in the history: each is a retry Temporal never ends. Not
    counted: UnhandledCommand, the server refusing a completion because something arrived
    meanwhile (a race the next task resolves; a journey that does not enter meets it too)."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_task_failed_event_attributes")
        and e.workflow_task_failed_event_attributes.cause != UNHANDLED_COMMAND
    )
