"""Activities that read or write the customer for a journey: conditions, wait_until, updates
and entries.

They are activities (not workflow code) because they need the database, Jinja and zoneinfo,
none of which belongs in the deterministic workflow sandbox. Each one reads the customer
fresh, so a journey decides on today's profile, not on the one it started with.

They run as local activities, which are at least once: the reads may simply run again, and
``update_customer`` is made idempotent by a key (see there).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_core import PydanticSerializationError, to_jsonable_python
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.counter_reads import used_reads
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.contracts import (
    CHANGE_POINTS,
    EVALUATE_CONDITION,
    RECORD_ENTRY,
    RECORD_FACT,
    RECORD_FACTS,
    RESOLVE_WAIT_UNTIL,
    UPDATE_CUSTOMER,
    ConditionRequest,
    EntryRequest,
    FactRequest,
    FactsRequest,
    JourneyContext,
    PointsRequest,
    UpdateRequest,
    WaitUntilRequest,
)
from journeys.model.durations import format_duration
from journeys.model.json_values import json_problem
from journeys.model.limits import MAX_WAIT, points_problem, wait_problem
from journeys.model.local_time import (
    is_whole_days,
    next_local_time,
    parse_time_of_day,
    shift,
    to_moment,
)
from journeys.rendering.context import build_context
from journeys.rendering.templating import (
    ExpressionError,
    Expressions,
    unwrap_expression,
)
from journeys.store import Store
from journeys.store.points import InsufficientPoints
from journeys.store.tables import JourneyEntry, blank_customer
from journeys.store.tracking_tables import JourneyFact


def _final(message: str, kind: str) -> ApplicationError:
    """A failure retrying cannot fix (a scenario mistake): fail the activity at once."""
    return ApplicationError(message, type=kind, non_retryable=True)


class JourneyContextActivities:
    def __init__(
        self, store: Store, expressions: Expressions, program: LoyaltyProgram | None = None
    ) -> None:
        self.store = store
        self.expressions = expressions
        self.program = program or LoyaltyProgram()

    async def _context(self, journey: JourneyContext, *sources: str) -> dict[str, Any]:
        """The customer, and their loyalty snapshot, badges and counters when one of
        ``sources`` (expressions) uses them (no source given: all of them but the referral
        code, which is made on first ask), as they are now, in one thread hop."""
        used = (
            frozenset().union(*(self.expressions.variables(source) for source in sources))
            if sources
            else None
        )
        return await asyncio.to_thread(self._read_context, journey, used)

    def _read_context(self, journey: JourneyContext, used: frozenset[str] | None) -> dict[str, Any]:
        customer_id = journey.customer_id
        customer = self.store.customers.get(customer_id) or blank_customer(customer_id)
        customer, loyalty, counters = used_reads(
            self.store, self.program.counters, journey, customer, used
        )
        return build_context(
            customer,
            journey.event,
            journey.now,
            journey.last_event,
            loyalty,
            journey.vars,
            counters,
            journey.coupon,
        )

    def _evaluate(self, source: str, context: dict[str, Any]) -> Any:
        try:
            return self.expressions.evaluate(source, context)
        except ExpressionError as err:
            raise _final(str(err), "ExpressionError") from err

    @activity.defn(name=EVALUATE_CONDITION)
    async def evaluate_condition(self, request: ConditionRequest) -> bool:
        context = await self._context(request.context, request.expression)
        return bool(self._evaluate(request.expression, context))

    @activity.defn(name=RESOLVE_WAIT_UNTIL)
    async def resolve_wait_until(self, request: WaitUntilRequest) -> datetime:
        """The UTC moment a wait_until step ends (it may be in the past: then no wait).

        ``time`` alone: the next such local time strictly after ``context.now``.
        ``at``: the expression's moment; with ``time``, that local date at that time.
        ``offset`` is added last: on the local calendar when it was written in days or
        weeks, as elapsed time when written in hours, minutes or seconds (see ``shift``).
        A request without ``calendar_offset`` (from before that field) counts whole days
        as calendar days.
        """
        if request.time is None and request.at is None:
            raise _final("wait_until needs 'time', 'at' or both", "InvalidWaitUntil")
        context = await self._context(request.context, request.at or "now")
        zone = _zone(str(context["customer"].get("time_zone") or "UTC"))
        now = request.context.now
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
        at_time = self._time_of_day(request.time)
        value = self._evaluate(request.at, context) if request.at is not None else None
        try:
            if request.at is None:
                assert at_time is not None
                moment = next_local_time(now, at_time, zone)
            else:
                moment = to_moment(value, zone, at_time)
            if request.offset:
                if problem := wait_problem("offset", request.offset):
                    raise ValueError(problem)
                calendar = request.calendar_offset
                if calendar is None:
                    calendar = is_whole_days(request.offset)
                moment = shift(moment, request.offset, zone, calendar=calendar)
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError) as err:  # a date past year 9999 or before year 1
            raise _final(f"wait_until: {_date_error(err, value)}", "InvalidWaitUntil") from err
        if moment - now > MAX_WAIT:
            raise _final(
                f"wait_until: {moment:%Y-%m-%d %H:%M} UTC is more than 10 years away "
                f"({format_duration(MAX_WAIT)}, the longest a journey waits)",
                "InvalidWaitUntil",
            )
        return moment

    @staticmethod
    def _time_of_day(text: str | None) -> time | None:
        try:
            return parse_time_of_day(text) if text else None
        except ValueError as err:
            raise _final(f"wait_until: {err}", "InvalidWaitUntil") from err

    @activity.defn(name=UPDATE_CUSTOMER)
    async def update_customer(self, request: UpdateRequest) -> dict[str, Any]:
        """Sets attributes (or profile fields); returns the values written.

        Every expression sees the customer as it was before this step, whatever the order
        of the keys. With a ``key`` (the step's key, ``journeys.model.journey_keys``) the update
        is applied once: a retried attempt finds the key and returns the values stored by
        the first one, instead of computing ``customer.points + 100`` again on the new
        points. Without a key, the read and the write are two transactions: two journeys
        awarding points to one customer at the same instant can still lose one award.

        A computed value JSON or PostgreSQL cannot hold (``inf`` from ``1e308 * 10``, a NUL,
        an unpaired surrogate) is refused here with the API's rules (``journeys.model.json_values``)
        as ``InvalidUpdate``, the step's recorded error: reaching the database it would fail
        there, and be retried as an outage for 25 minutes.
        """
        customer_id = request.context.customer_id
        key = request.key
        if key:
            done = await asyncio.to_thread(self.store.customers.applied_update, key)
            if done is not None:
                return done
        expressions = {name: unwrap_expression(value) for name, value in request.values.items()}
        sources = [source for source in expressions.values() if source is not None]
        # Only what the expressions name is read (none: nothing): badges and counters cost
        # queries that an update of plain values must not pay on every journey.
        context = await self._context(request.context, *sources) if sources else {}
        values: dict[str, Any] = {}
        for name, value in request.values.items():
            expression = expressions[name]
            values[name] = value if expression is None else self._evaluate(expression, context)
        # JSON columns take JSON: dates become ISO text, tuples lists, and so on.
        try:
            values = to_jsonable_python(values)
        except PydanticSerializationError as err:
            raise _final(f"update: a value cannot be stored: {err}", "InvalidUpdate") from err
        if problem := json_problem(values):
            where, why = problem
            raise _final(f"update: {where or 'a value'} cannot be stored: {why}", "InvalidUpdate")
        try:
            if key:
                return await asyncio.to_thread(
                    self.store.customers.apply_update, customer_id, values, key
                )
            await asyncio.to_thread(self.store.customers.set_attributes, customer_id, values)
        except ValueError as err:
            raise _final(f"update: {err}", "InvalidUpdate") from err
        return values

    @activity.defn(name=CHANGE_POINTS)
    async def change_points(self, request: PointsRequest) -> str:
        """Awards or deducts an update step's points, once per journey entry (by ``key``).

        A deduction larger than the balance takes nothing and says so in the journey's
        timeline: the journey goes on, as it would after a refused card.
        """
        points: Any = request.points
        expression = unwrap_expression(points) if isinstance(points, str) else None
        if expression is not None:
            points = self._evaluate(expression, await self._context(request.context, expression))
        if isinstance(points, float) and points.is_integer():
            points = int(points)
        if not isinstance(points, int) or isinstance(points, bool) or points == 0:
            raise _final(
                f"points must be a whole number other than 0, not {_short(points)}",
                "InvalidPoints",
            )
        if problem := points_problem(points):
            raise _final(problem, "InvalidPoints")
        customer_id, at, ref = (
            request.context.customer_id,
            request.context.now,
            f"journey/{request.key}",
        )
        if points > 0:
            await asyncio.to_thread(
                self.store.points.earn,
                customer_id,
                points,
                source_ref=ref,
                reason=request.reason,
                at=at,
                rules=self.program.points,
            )
            return f"awarded {points} points"
        try:
            await asyncio.to_thread(
                self.store.points.redeem,
                customer_id,
                -points,
                source_ref=ref,
                reason=request.reason,
                at=at,
            )
        except InsufficientPoints as err:
            return f"deducted nothing: {err}"
        return f"deducted {-points} points"

    @activity.defn(name=RECORD_FACT)
    async def record_fact(self, request: FactRequest) -> None:
        await asyncio.to_thread(
            self.store.journeys.record_fact, JourneyFact(**request.model_dump())
        )

    @activity.defn(name=RECORD_FACTS)
    async def record_facts(self, request: FactsRequest) -> None:
        """A journey's facts since its last write, in one transaction (``workflows.facts``)."""
        facts = [JourneyFact(**fact.model_dump()) for fact in request.facts]
        await asyncio.to_thread(self.store.journeys.record_facts, facts)

    @activity.defn(name=RECORD_ENTRY)
    async def record_entry(self, request: EntryRequest) -> bool:
        """May the customer enter? Records the entry when they may (idempotent per entry_id).

        Only ``once`` refuses here (a customer's earlier entry exists); the other policies
        are settled by the workflow and its id, and are only recorded.
        """
        entry = JourneyEntry(
            entry_id=request.entry_id,
            scenario_id=request.scenario_id,
            customer_id=request.customer_id,
            workflow_id=request.workflow_id,
            entered_at=request.now,
        )
        once = request.policy == "once"
        return await asyncio.to_thread(self.store.journeys.record_entry, entry, once=once)


def _date_error(err: Exception, value: Any) -> str:
    if isinstance(err, OverflowError):
        return f"{_short(value)}, with its offset, falls outside the calendar (years 1 to 9999)"
    return str(err)


def _short(value: Any) -> str:
    """A value in a message: a result of 10,000 digits must not become the message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _zone(name: str) -> ZoneInfo:
    """The customer's zone; a bad name (bad data, not a bad scenario) falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        activity.logger.warning("time zone %r is unknown, using UTC", name)
        return ZoneInfo("UTC")
