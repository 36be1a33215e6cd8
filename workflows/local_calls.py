"""Local activities as a journey calls them: bounded retries, and a step's failure told apart
from an outage.

Two kinds of failure reach a step, and they need opposite answers:

* the scenario or the customer's data is wrong (an expression that fails on this customer, a
  ``wait_until.at`` that is no date, a value the profile refuses, points out of bounds): the
  activity raises a non-retryable ``ApplicationError`` and retrying cannot help. The call
  raises ``StepFailed`` and the interpreter records it at the step (see ``workflows.journey``);
* anything else (the store unreachable, a worker bug) is retried, but not forever:
  ``ATTEMPTS`` tries over about 5 hours (long enough for a database failover or a
  maintenance window), then the journey fails with a non-retryable error that names the
  step, visible in the Web UI, instead of retrying out of sight.

Backoffs longer than a second are durable timers (``local_retry_threshold``), so a worker
restart does not reset the count. Journeys whose history predates ``STEP_ERRORS_PATCH``
keep the old calls (unbounded retries, a failure fails the workflow) so they replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

# Patch: a step's failure is recorded; local activities retry a bounded number of times.
STEP_ERRORS_PATCH = "step-errors"

# Raised (non-retryable) by activities.journey_context for a scenario's or a customer's mistake.
SCENARIO_ERRORS = ("ExpressionError", "InvalidWaitUntil", "InvalidUpdate", "InvalidPoints")
ATTEMPTS = 40  # 1 s, 2 s, ... 512 s (17 minutes), then every 10 minutes: about 5 hours
GIVE_UP_AFTER = "about 5 hours"

LEGACY_LOCAL: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=30)}
LOCAL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=10),
        maximum_attempts=ATTEMPTS,
        non_retryable_error_types=list(SCENARIO_ERRORS),
    ),
    "local_retry_threshold": timedelta(seconds=1),
}

T = TypeVar("T")


class StepFailed(Exception):
    """The step cannot do what the scenario says for this customer; ``str()`` is the reason."""


class Caller(Protocol):
    step_errors: bool  # STEP_ERRORS_PATCH, asked first thing in run

    async def flush_facts(self) -> None:
        """Writes the funnel facts held back (``workflows.facts``): before any other I/O."""
        ...


async def call_local(
    journey: Caller,
    what: str,
    activity: str,
    arg: Any,
    result_type: type[T] | None = None,
    *,
    flush: bool = True,
) -> T:
    """Runs a local activity for ``what`` (``step 'x'``, ``entry``...); see the module doc.
    The journey's held facts go first (``flush``: not when the call is the facts' own)."""
    if flush:
        await journey.flush_facts()
    if not journey.step_errors:
        return await workflow.execute_local_activity(
            activity, arg, result_type=result_type, **LEGACY_LOCAL
        )
    try:
        return await workflow.execute_local_activity(
            activity, arg, result_type=result_type, **LOCAL
        )
    except FailureError as err:
        # A local activity's failure arrives as the activity's own error (this SDK does not
        # wrap it in an ActivityError as it does for remote activities); accept both.
        cause = err.cause if isinstance(err, ActivityError) else err
        if isinstance(cause, CancelledError):
            raise
        if isinstance(cause, ApplicationError) and (
            cause.non_retryable or cause.type in SCENARIO_ERRORS
        ):
            raise StepFailed(cause.message) from None
        reason = cause.message if isinstance(cause, FailureError) else err.message
        raise ApplicationError(
            f"{what}: {activity} kept failing ({ATTEMPTS} attempts over {GIVE_UP_AFTER}), so "
            f"the journey stops here; the last error: {reason}",
            type="StepGaveUp",
            non_retryable=True,
        ) from err
