"""``GET /v1/scenarios``: the scenarios in force, as the API process loaded them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from journeys.api.auth import Authorized
from journeys.api.state import ApiState, api_state

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"])
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
