"""``referral.code`` in expressions and update steps: read (and made, on first ask) only by
a source that names ``referral``; a step that does not name it makes no code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.journey_context import JourneyContextActivities
from journeys.model.contracts import ConditionRequest, JourneyContext, UpdateRequest
from journeys.rendering.templating import Expressions
from journeys.store import Store
from journeys.store.referral_tables import ReferralCode

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    store.customers.upsert("ana", email="ana@example.com")
    return store


def codes(store: Store) -> list[str]:
    with store.database.session() as session:
        return [row.code for row in session.exec(select(ReferralCode)).all()]


def context() -> JourneyContext:
    return JourneyContext(customer_id="ana", now=NOW)


async def test_a_condition_on_the_code_makes_it_once(store: Store) -> None:
    activities = JourneyContextActivities(store, Expressions())
    request = ConditionRequest(expression="referral.code | length == 8", context=context())
    assert await ActivityEnvironment().run(activities.evaluate_condition, request)
    assert codes(store) == [store.referrals.code_for("ana")]


async def test_steps_that_do_not_name_referral_make_no_code(store: Store) -> None:
    activities = JourneyContextActivities(store, Expressions())
    env = ActivityEnvironment()
    await env.run(
        activities.evaluate_condition,
        ConditionRequest(expression="points.balance == 0", context=context()),
    )
    values = {"seen": True, "score": "{{ points.balance + 1 }}"}
    await env.run(activities.update_customer, UpdateRequest(values=values, context=context()))
    assert codes(store) == []
    copied = {"my_code": "{{ referral.code }}"}
    written = await env.run(
        activities.update_customer, UpdateRequest(values=copied, context=context())
    )
    assert written == {"my_code": store.referrals.code_for("ana")}
