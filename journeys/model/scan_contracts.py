"""Inputs and outputs of the scheduled work: audience scans and the loyalty program's
purchase and daily runs. Pure pydantic, shared by workflows (by activity name) and
activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from journeys.model.events import Event


class ScanProgress(BaseModel):
    """How far a scan got: queryable (``progress``) and carried across continue-as-new."""

    scenario_id: str
    at: datetime
    cursor: str = ""
    pages: int = 0
    members: int = 0  # audience members read (those started before included)
    started: int = 0
    done: bool = False


class ScanInput(BaseModel):
    scenario_id: str
    # The moment the audience is evaluated at; None: when the scan starts (schedules).
    # Given explicitly to preview or backfill a date, by tests, and by a broadcast's
    # schedule (its one moment: every run of it is about the same occasion).
    at: datetime | None = None
    page_size: int = 500
    progress: ScanProgress | None = None


class ScanPageRequest(BaseModel):
    scenario_id: str
    at: datetime
    cursor: str
    limit: int


class ScanPageResult(BaseModel):
    cursor: str  # "" when the audience is exhausted
    members: int
    started: int


class PurchaseInput(BaseModel):
    event: Event


class DailyInput(BaseModel):
    at: datetime | None = None  # None: when the run starts


class DailyReport(BaseModel):
    at: datetime
    lots_activated: int = 0
    points_expired: int = 0
    tier_changes: int = 0
    rfm_scored: int = 0
    segment_changes: int = 0


# Activity names.
SCAN_AUDIENCE_PAGE = "scan_audience_page"
APPLY_PURCHASE = "apply_purchase"
SETTLE_POINTS = "settle_points"
REVIEW_TIERS_PAGE = "review_tiers_page"
SCORE_RFM = "score_rfm"
APPLY_RFM_PAGE = "apply_rfm_page"
