"""A customer's journeys, as Temporal knows them: found by the ``CustomerId`` search
attribute, each asked for its ``state`` (a journey with no worker to answer is listed with
its status only). Shared by ``journeys status`` and ``GET /v1/customers/{id}/journeys``."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from journeys.model.journey_state import JourneyState
from journeys.temporal.connect import SCENARIO_ID


async def customer_journeys(client: Client, customer_id: str) -> list[dict[str, Any]]:
    quoted = customer_id.replace("\\", "\\\\").replace('"', '\\"')
    rows: list[dict[str, Any]] = []
    async for info in client.list_workflows(f'CustomerId = "{quoted}"'):
        status = info.status.name.lower() if info.status else "unknown"
        row: dict[str, Any] = {
            "workflow_id": info.id,
            "scenario_id": info.typed_search_attributes.get(SCENARIO_ID) or "",
            "status": status,
            "state": None,
        }
        handle = client.get_workflow_handle(info.id, run_id=info.run_id)
        try:
            row["state"] = await handle.query("state", result_type=JourneyState)
        except (RPCError, WorkflowQueryFailedError) as err:
            row["status"] = f"{status} ({err})"
        rows.append(row)
    rows.sort(key=lambda r: (r["status"] != "running", r["workflow_id"]))
    return rows
