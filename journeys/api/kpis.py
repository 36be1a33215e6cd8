"""``GET /v1/kpis``: the loyalty program's KPIs over a period, by tier or segment, as a
series (``journeys.store.kpis``; README, "Program KPIs", defines each figure).

What a schema states (moments, the names of ``by`` and ``series``) is checked by FastAPI;
what it cannot (``since`` before ``until``, at most 1,000 buckets) by the store, whose
refusal names the parameter: a 422 in the same shape, and nothing is read past it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from journeys.api.auth import Authorized
from journeys.api.fields import Moment
from journeys.api.responses import UNAUTHORIZED
from journeys.api.state import ApiState, api_state
from journeys.process.clock import utcnow
from journeys.store.kpi_figures import KpiReport
from journeys.store.kpi_periods import MAX_BUCKETS, KpiInputError

router = APIRouter(prefix="/v1/kpis", tags=["kpis"], responses={**UNAUTHORIZED})
State = Annotated[ApiState, Depends(api_state)]

_FIGURES = {
    "members": 5,
    "active_members": 3,
    "active_member_ratio": 0.6,
    "purchases": 5,
    "revenue": 1780.0,
    "purchase_frequency": 1.6667,
    "average_order_value": 356.0,
    "repeat_customers": 1,
    "repeat_purchase_rate": 0.3333,
    "points_earned": 1780,
    "points_redeemed": 320,
    "points_expired": 410,
    "redemption_rate": 0.1798,
    "breakage": 0.2303,
    "clv": 2857.78,
    "nps_responses": 3,
    "promoters": 2,
    "detractors": 1,
    "nps": 33.3,
}
EXAMPLE: dict[str, Any] = {
    "since": "2026-09-01T00:00:00Z",
    "until": "2026-12-01T00:00:00Z",
    "by": None,
    "series": None,
    "lifetime_years": 2.0,
    "overall": _FIGURES,
    "groups": [],
    "buckets": [],
}


@router.get(
    "",
    response_model=KpiReport,
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}},
)
async def kpis(
    state: State,
    _: Authorized,
    since: Annotated[
        Moment | None, Query(description="The period from (default: 30 days before until)")
    ] = None,
    until: Annotated[
        Moment | None, Query(description="The period until, excluded (default: now)")
    ] = None,
    by: Annotated[
        Literal["tier", "segment"] | None,
        Query(description="Figures per tier or RFM segment, as each customer held it at `until`"),
    ] = None,
    series: Annotated[
        Literal["day", "week", "month"] | None,
        Query(
            description=f"Also per UTC day, ISO week or month of the period (at most "
            f"{MAX_BUCKETS} buckets), each a full set of figures"
        ),
    ] = None,
) -> KpiReport:
    """Members, active members and their ratio, purchases, revenue, purchase frequency,
    average order value, repeat-purchase rate, points earned / redeemed / expired,
    redemption rate, breakage, estimated CLV and NPS over [since, until): overall, per
    group with `by`, per bucket with `series`. A figure with nothing to divide by is null.

    A 422 names the parameter at fault in `detail[0].loc`: `["query", "until"]` for an
    until not after since, `["query", "series"]` for a series of more than 1,000 buckets,
    `["query", "by"]` for an unknown grouping."""
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    try:
        return await asyncio.to_thread(
            state.store.kpis.report, since, until, by=by, series=series, program=state.program
        )
    except KpiInputError as err:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", err.field), "msg": str(err)}]
        ) from None
