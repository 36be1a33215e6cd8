"""A scenario's funnel, counted from what was recorded: journey facts and the delivery
ledger, never estimates.

The cohort is the entries that began in the date range (``entered`` facts); everything
else is counted for those entries, whenever it happened: how they ended, whether the goal
was reached within its window (attributed to the entry the customer was in), the
messages of each send step by ledger status, and where the ones still running wait now
(the last wait step they reached).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from journeys.model.scenario import Scenario, SendStep
from journeys.store.tables import Delivery
from journeys.store.tracking_tables import JourneyFact

ENDS = ("completed", "exited")


@dataclass
class StepCounts:
    step_id: str
    kind: str
    waiting_now: int = 0
    sent: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)  # by reason
    failed: dict[str, int] = field(default_factory=dict)  # by reason
    in_flight: int = 0  # reserved or deferred (quiet hours): not decided yet


@dataclass
class Funnel:
    scenario_id: str
    since: datetime
    until: datetime
    entered: int = 0
    running: int = 0
    completed: int = 0
    exited: dict[str, int] = field(default_factory=dict)  # by reason (exit event, step, ...)
    goal_converted: int = 0
    steps: list[StepCounts] = field(default_factory=list)


def count_funnel(session: Session, scenario: Scenario, since: datetime, until: datetime) -> Funnel:
    facts = JourneyFact
    cohort = (
        select(facts.workflow_id, facts.entry_id)
        .where(
            facts.scenario_id == scenario.id,
            facts.kind == "entered",
            col(facts.at) >= since,
            col(facts.at) < until,
        )
        .subquery()
    )
    in_cohort = and_(cohort.c.workflow_id == facts.workflow_id, cohort.c.entry_id == facts.entry_id)
    funnel = Funnel(scenario.id, since, until)
    funnel.entered = int(session.exec(select(func.count()).select_from(cohort)).one())

    outcomes = session.exec(
        select(facts.kind, facts.detail, func.count())
        .join(cohort, in_cohort)
        .where(col(facts.kind).in_([*ENDS, "goal"]))
        .group_by(col(facts.kind), col(facts.detail))
    ).all()
    exited: Counter[str] = Counter()
    for kind, detail, count in outcomes:
        if kind == "completed":
            funnel.completed += count
        elif kind == "goal":
            funnel.goal_converted += count
        else:
            exited[detail or "exit"] += count
    funnel.exited = dict(exited)
    funnel.running = funnel.entered - funnel.completed - sum(exited.values())

    steps = {step.id: StepCounts(step.id, step.kind) for step in scenario.walk()}
    for step_id, count in session.exec(_waiting_now(scenario.id, cohort)).all():
        if step_id in steps:
            steps[step_id].waiting_now = count
    for step_id, status, count in session.exec(_messages(cohort)).all():
        if step_id in steps and isinstance(_step(scenario, step_id), SendStep):
            _add_message(steps[step_id], status, count)
    funnel.steps = list(steps.values())
    return funnel


def _waiting_now(scenario_id: str, cohort: Any) -> Any:
    """Running entries (no end fact) by the last wait step they reached."""
    facts, ended = JourneyFact, JourneyFact.__table__.alias("ended")
    last = (
        select(facts.workflow_id, facts.entry_id, func.max(facts.id).label("last"))
        .where(facts.scenario_id == scenario_id, facts.kind == "waiting")
        .group_by(col(facts.workflow_id), col(facts.entry_id))
        .subquery()
    )
    finished = exists().where(
        ended.c.workflow_id == facts.workflow_id,
        ended.c.entry_id == facts.entry_id,
        ended.c.kind.in_(ENDS),
    )
    return (
        select(facts.step_id, func.count())
        .join(last, last.c.last == facts.id)
        .join(
            cohort,
            and_(cohort.c.workflow_id == facts.workflow_id, cohort.c.entry_id == facts.entry_id),
        )
        .where(~finished)
        .group_by(col(facts.step_id))
    )


def _messages(cohort: Any) -> Any:
    """Ledger rows of the cohort's entries by step and status. Rows name their entry; older
    rows (``entry_id`` None) hold it in the first key format, ``<workflow>/<entry>/<step>``."""
    legacy_key = cohort.c.workflow_id + "/" + cohort.c.entry_id + "/" + col(Delivery.step_id)
    same_entry = or_(
        col(Delivery.entry_id) == cohort.c.entry_id,
        and_(col(Delivery.entry_id).is_(None), Delivery.delivery_key == legacy_key),
    )
    return (
        select(Delivery.step_id, Delivery.status, func.count())
        .join(cohort, and_(cohort.c.workflow_id == Delivery.workflow_id, same_entry))
        .group_by(col(Delivery.step_id), col(Delivery.status))
    )


def _add_message(counts: StepCounts, status: str, count: int) -> None:
    outcome, _, reason = status.partition(":")
    if outcome == "sent":
        counts.sent += count
    elif outcome == "suppressed":
        counts.suppressed[reason] = counts.suppressed.get(reason, 0) + count
    elif outcome == "failed":
        counts.failed[reason] = counts.failed.get(reason, 0) + count
    else:
        counts.in_flight += count


def _step(scenario: Scenario, step_id: str) -> Any:
    return next(step for step in scenario.walk() if step.id == step_id)
