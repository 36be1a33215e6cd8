"""``GET /v1/scenarios``: the scenarios in force, as the API process loaded them, and
``GET /v1/scenarios/{id}/funnel``: how each one performs, step by step."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel

from journeys.api.auth import Authorized
from journeys.api.fields import Moment
from journeys.api.responses import NOT_FOUND, UNAUTHORIZED
from journeys.api.state import ApiState, api_state
from journeys.process.clock import utcnow
from journeys.store.funnels import Funnel

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"], responses={**UNAUTHORIZED})
State = Annotated[ApiState, Depends(api_state)]


class ScenarioOut(BaseModel):
    id: str
    name: str
    description: str
    category: str
    trigger: str  # the event name, or "schedule: <every|cron>"
    steps: list[str]  # step ids, depth first


@router.get("", response_model=list[ScenarioOut])
async def list_scenarios(state: State, _: Authorized) -> list[ScenarioOut]:
    out = []
    for scenario in sorted(state.registry.scenarios.values(), key=lambda s: s.id):
        schedule = scenario.trigger.schedule
        trigger = scenario.trigger.event
        if schedule is not None:
            trigger = f"schedule: {schedule.cron or f'every {schedule.every}'}"
        out.append(
            ScenarioOut(
                id=scenario.id,
                name=scenario.name,
                description=scenario.description.strip(),
                category=scenario.category,
                trigger=trigger,
                steps=[step.id for step in scenario.walk()],
            )
        )
    return out


@router.get("/{scenario_id}/funnel", response_model=Funnel, responses={**NOT_FOUND})
async def funnel(
    scenario_id: Annotated[str, Path(max_length=200)],
    state: State,
    _: Authorized,
    since: Annotated[
        Moment | None, Query(description="Entries from (default: 30 days before until)")
    ] = None,
    until: Annotated[Moment | None, Query(description="Entries before (default: now)")] = None,
) -> Funnel:
    """Per scenario and step, for the entries that began in [since, until): entered, running,
    completed, exited by reason, goal converted; per step: waiting now, and per channel
    decision of each send step: sent, suppressed and failed by reason, in flight."""
    scenario = state.registry.scenarios.get(scenario_id)
    if scenario is None:
        raise HTTPException(status_code=404, detail=f"no scenario '{scenario_id}'")
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    return await asyncio.to_thread(state.store.journeys.funnel, scenario, since, until)
