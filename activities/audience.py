"""The audience scan's activity: read one page of a scheduled scenario's audience and start
the journeys of the members whose occasion is new.

Order matters for "nobody lost, nobody twice": the members' audience entries are written
first (unique per scenario, customer and occasion), then their journeys are started with
signal-with-start, then the entries are marked started. A scan that dies in between leaves
entries unstarted, which the next attempt starts; the trigger event's id is derived from
the occasion, so a journey started twice sees the same entry (its sends and point awards
are keyed by it and happen once).
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_alive
from journeys.authoring.registry import ScenarioRegistry
from journeys.model.events import Event
from journeys.model.scan_contracts import SCAN_AUDIENCE_PAGE, ScanPageRequest, ScanPageResult
from journeys.store import Store
from journeys.store.tracking_tables import AudienceEntry
from journeys.temporal.routing import Router

# Signal-with-start calls in flight at once: the server, not the worker, is the limit.
CONCURRENT_STARTS = 64


class AudienceActivities:
    def __init__(self, store: Store, registry: ScenarioRegistry, router: Router) -> None:
        self.store = store
        self.registry = registry
        self.router = router

    @activity.defn(name=SCAN_AUDIENCE_PAGE)
    async def scan_audience_page(self, request: ScanPageRequest) -> ScanPageResult:
        return await keep_alive(self._scan_page(request))

    async def _scan_page(self, request: ScanPageRequest) -> ScanPageResult:
        scenario = self.registry.scenarios.get(request.scenario_id)
        audience = scenario.trigger.audience if scenario else None
        if scenario is None or audience is None:
            # A worker with another scenario folder (a rolling deploy): retrying cannot help,
            # and a scan stuck retrying would make its schedule skip every later run.
            raise ApplicationError(
                f"this worker has no scheduled scenario '{request.scenario_id}'",
                type="UnknownScenario",
                non_retryable=True,
            )
        members, cursor = await asyncio.to_thread(
            self.store.audiences.page, audience, request.at, request.cursor, request.limit
        )
        entries = await asyncio.to_thread(self.store.audiences.claim, scenario.id, members)
        properties = {m.customer_id: m.properties for m in members}
        gate = asyncio.Semaphore(CONCURRENT_STARTS)

        async def start(entry: AudienceEntry) -> None:
            event = Event(
                id=entry.event_id,
                name=scenario.trigger.event,
                customer_id=entry.customer_id,
                properties=properties.get(entry.customer_id, {}),
                occurred_at=request.at,
            )
            async with gate:
                await self.router.trigger(scenario, event)

        await asyncio.gather(*(start(entry) for entry in entries))
        started = [entry.id for entry in entries if entry.id is not None]
        await asyncio.to_thread(self.store.audiences.mark_started, started, request.at)
        activity.logger.info(
            "scan %s at %s: page after %r read %d members, started %d",
            scenario.id,
            request.at.isoformat(),
            request.cursor,
            len(members),
            len(started),
        )
        return ScanPageResult(cursor=cursor, members=len(members), started=len(started))
