"""A step that fails at run time is a recorded outcome, never a journey stuck retrying.

Each scenario parses (parse_scenario does not evaluate expressions against a sample, as
``journeys validate`` would), then fails on this customer's data in the real worker: the
timeline names the step and the reason, the funnel's facts carry it, nothing more is sent,
and the workflow never fails a workflow task (which Temporal would retry forever).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.authoring.registry import ScenarioRegistry
from journeys.authoring.scenario_file import parse_scenario
from journeys.files.problems import ScenarioError
from journeys.model.events import Event
from journeys.model.journey_state import JourneyInput, JourneyState, journey_id
from journeys.model.limits import MAX_WAIT
from journeys.model.scenario import Scenario
from journeys.process.settings import Settings
from journeys.store import Store
from journeys.temporal.routing import SIGNAL, WORKFLOW, Router
from tests.props import CART_PROPS
from tests.workflow_history import task_failures

HEAD = "name: Failing steps\ntrigger: {event: %s}\n"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # funnels over every entry of these scenarios
_FAR = datetime(2100, 1, 1, tzinfo=UTC)


def scenario(scenario_id: str, body: str) -> Scenario:
    text = f"id: {scenario_id}\n" + HEAD % f"{scenario_id}.go" + body
    return parse_scenario(text, f"{scenario_id}.yaml")


SCENARIOS = [
    scenario(
        "err-entry",
        'entry: {if: "event.cart_total > 0"}\nsteps:\n'
        "  - send: {id: hello, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-if",
        "steps:\n"
        '  - if: "customer.vip_level > 2"\n'
        "    id: check\n"
        "    then:\n"
        "      - send: {id: vip, channel: email, template: abandoned_cart/reminder}\n"
        "    else:\n"
        "      - send: {id: regular, channel: email, template: abandoned_cart/reminder}\n"
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-at",
        "steps:\n"
        "  - wait_until: {id: on-day, at: event.day, time: '10:00'}\n"
        "  - send: {id: on-the-day, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-where",
        "steps:\n"
        "  - wait_for:\n"
        "      id: paid\n"
        "      event: order.paid\n"
        '      where: "last_event.total > 10"\n'
        "      timeout: 1d\n"
        "      timed_out:\n"
        "        - exit: not paid\n"
        "  - update: {id: mark, set: {paid: true}}\n",
    ),
    scenario(
        "err-set",
        "steps:\n"
        '  - update: {id: mark, set: {score: "{{ customer.score + 1 }}"}}\n'
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-field",
        "steps:\n"
        "  - update: {id: locale, set: {locale: \"{{ 'not a locale!' }}\"}}\n"
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-points",
        "steps:\n"
        '  - update: {id: bonus, points: "{{ event.amount * 10 ** 20 }}", reason: bonus}\n'
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n",
    ),
    scenario(
        "err-render",
        "steps:\n"
        "  - send: {id: reminder, channel: email, template: abandoned_cart/reminder}\n"
        "  - update: {id: mark, set: {reminded: true}}\n",
    ),
]


@pytest.fixture
def driver(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> JourneyDriver:
    router = Router(temporal.client, ScenarioRegistry(SCENARIOS), settings.task_queue)
    return JourneyDriver(temporal, router, store)


async def run(driver: JourneyDriver, scenario_id: str, **props: object) -> tuple[str, JourneyState]:
    customer = driver.customer()
    await driver.send(customer, f"{scenario_id}.go", **props)
    state = await driver.finish(scenario_id, customer)
    assert await task_failures(driver.handle(scenario_id, customer)) == 0
    return customer, state


def notes(state: JourneyState, step_id: str) -> list[str]:
    return [e.note for e in state.timeline if e.step_id == step_id]


def exits(store: Store, scenario_id: str) -> dict[str, int]:
    facts = store.journeys.funnel(
        next(s for s in SCENARIOS if s.id == scenario_id),
        since=_EPOCH,
        until=_FAR,
    )
    return facts.exited


async def test_a_failing_entry_condition_does_not_enter(driver: JourneyDriver) -> None:
    customer, state = await run(driver, "err-entry", **CART_PROPS)  # no cart_total

    assert state.status == "not-entered"
    (note,) = notes(state, "entry")
    assert note.startswith("error in entry.if, not entered: expression 'event.cart_total > 0'")
    assert "cart_total" in note
    assert driver.sent(customer) == []


async def test_a_failing_if_takes_neither_branch_and_ends_the_entry(driver: JourneyDriver) -> None:
    customer, state = await run(driver, "err-if", cart_total=10, **CART_PROPS)

    assert state.status == "exited"
    assert state.exit_reason.startswith("error at step 'check': expression 'customer.vip_level")
    assert "vip_level" in state.exit_reason
    assert notes(state, "check") == [f"error: {state.exit_reason.split(': ', 1)[1]}"]
    assert notes(state, "end") == [state.exit_reason]
    assert driver.sent(customer) == []  # not "vip", not "regular", not "after"
    assert exits(driver.store, "err-if").get(state.exit_reason, 0) >= 1  # the funnel's fact


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        pytest.param(None, "expression 'event.day' fails", id="missing"),
        pytest.param("soon", "'soon' is not an ISO date", id="not-a-date"),
        pytest.param("2999-01-01", "is more than 10 years away", id="too-far"),
    ],
)
async def test_a_failing_wait_until_sends_nothing(
    driver: JourneyDriver, day: str | None, reason: str
) -> None:
    props = {"cart_total": 10, **CART_PROPS} | ({"day": day} if day else {})
    customer, state = await run(driver, "err-at", **props)

    assert state.status == "exited"
    assert state.exit_reason.startswith("error at step 'on-day': "), state.exit_reason
    assert reason in state.exit_reason
    assert driver.sent(customer) == []


async def test_an_offset_past_the_calendar_is_a_step_error(driver: JourneyDriver) -> None:
    late = scenario(
        "err-offset",
        "steps:\n  - wait_until: {id: later, at: \"'9999-12-31'\", offset: 1d}\n",
    )
    router = Router(driver.router.client, ScenarioRegistry([late]), driver.router.task_queue)
    own = JourneyDriver(driver.clock, router, driver.store)
    customer = own.customer()
    await own.send(customer, "err-offset.go")
    state = await own.finish("err-offset", customer)

    assert "falls outside the calendar" in state.exit_reason
    assert await task_failures(own.handle("err-offset", customer)) == 0


async def test_a_where_that_fails_on_an_event_does_not_match_it(driver: JourneyDriver) -> None:
    customer = driver.customer()
    await driver.send(customer, "err-where.go")
    await driver.idle("err-where", customer)
    await driver.send(customer, "order.paid", currency="EUR")  # no total: 'where' fails
    await driver.idle("err-where", customer)
    await driver.send(customer, "order.paid", total=25)
    state = await driver.finish("err-where", customer)

    assert state.status == "completed"
    first, second = notes(state, "paid")
    assert first.startswith("order.paid did not match 'where' (expression 'last_event.total")
    assert first.endswith("; still waiting")
    assert second == "received order.paid"
    assert await task_failures(driver.handle("err-where", customer)) == 0


async def test_a_failing_update_is_noted_and_ends_the_entry(driver: JourneyDriver) -> None:
    customer, state = await run(driver, "err-set", cart_total=10, **CART_PROPS)

    assert state.exit_reason.startswith("error at step 'mark': expression 'customer.score + 1'")
    assert notes(state, "mark")[0].startswith("error: ")
    assert driver.sent(customer) == []
    profile = driver.store.customers.get(customer)
    assert profile is not None and "score" not in profile


async def test_a_value_the_profile_refuses_is_a_step_error(driver: JourneyDriver) -> None:
    customer, state = await run(driver, "err-field", cart_total=10, **CART_PROPS)

    assert state.exit_reason.startswith("error at step 'locale': update: ")
    assert driver.sent(customer) == []


async def test_a_huge_points_expression_is_refused_and_nothing_is_awarded(
    driver: JourneyDriver,
) -> None:
    customer, state = await run(driver, "err-points", amount=3, cart_total=10, **CART_PROPS)

    assert state.exit_reason == (
        "error at step 'bonus': points must be between -10,000,000 and 10,000,000, "
        "not 300,000,000,000,000,000,000"
    )
    assert driver.store.points.summary(customer, state.timeline[-1].at)["balance"] == 0
    assert driver.sent(customer) == []


async def test_a_template_failing_on_the_data_is_a_failed_message_on_the_ledger(
    driver: JourneyDriver,
) -> None:
    """A render failure is the send's outcome (failed, with the reason, on the ledger and in
    the funnel); the journey goes on, as after a bounced email."""
    customer, state = await run(driver, "err-render", currency="EUR")  # the template needs more

    assert state.status == "completed"
    (message,) = state.messages
    assert message.status == "failed"
    assert "cannot be rendered" in message.detail
    (row,) = driver.store.ledger.for_customer(customer)
    assert row.status == "failed:render"
    assert "cannot be rendered" in row.reason
    assert driver.sent(customer) == []
    assert notes(state, "mark") == ["set reminded=True"]
    funnel = driver.store.journeys.funnel(SCENARIOS[-1], since=_EPOCH, until=_FAR)
    (reminder,) = [s for s in funnel.steps if s.step_id == "reminder"]
    assert sum(reminder.failed.values()) >= 1


async def test_an_input_past_the_limits_fails_its_step_not_the_workflow_task(
    temporal: WorkflowEnvironment, worker: None, settings: Settings, store: Store
) -> None:
    """A journey input is decoded without the file checks (a decoding error would be retried
    forever): the registry refuses such a scenario, and the interpreter meets the same
    bound at the step and records it."""
    base = parse_scenario(
        "id: err-input\nname: I\ntrigger: {event: go}\nentry: {reentry: {once_per: 1d}}\n"
        "steps:\n  - wait: 1h\n  - update: {points: 5}\n",
        "err_input.yaml",
    )
    driver = JourneyDriver(
        temporal, Router(temporal.client, ScenarioRegistry([base]), settings.task_queue), store
    )
    wait, points = base.steps

    def unchecked(**update: object) -> Scenario:
        bad = base.model_copy(update=update)
        with pytest.raises(ScenarioError, match=r"10 years|10,000,000"):
            ScenarioRegistry([bad])
        return bad

    cases = [
        (
            unchecked(steps=[wait.model_copy(update={"duration": timedelta(days=999_999_999)})]),
            f"error at step '{wait.id}': 'wait' must be at most 3653d (10 years), not 999999999d",
        ),
        (
            unchecked(steps=[wait, points.model_copy(update={"points": 10**20})]),
            f"error at step '{points.id}': points must be between -10,000,000 and 10,000,000, "
            "not 100,000,000,000,000,000,000",
        ),
        (
            unchecked(
                entry=base.entry.model_copy(update={"once_per": timedelta(days=999_999_999)})
            ),
            "",
        ),
    ]
    for bad, reason in cases:
        customer = driver.customer()
        handle = await temporal.client.start_workflow(
            WORKFLOW,
            JourneyInput(scenario=bad, customer_id=customer),
            id=journey_id("err-input", customer),
            task_queue=settings.task_queue,
            start_signal=SIGNAL,
            start_signal_args=[Event(id=f"go-{customer}", name="go", customer_id=customer)],
        )
        state = await driver.finish("err-input", customer)
        assert state.exit_reason == reason
        assert await task_failures(handle) == 0
        if not reason:  # a re-entry period past the limit is held for the limit, no longer
            (held,) = notes(state, "hold")
            until = datetime.fromisoformat(held.removeprefix("re-entry closed until "))
            entered = state.timeline[0].at  # the entry's moment, give or take a local activity
            assert abs(until - entered - MAX_WAIT) < timedelta(seconds=5)
