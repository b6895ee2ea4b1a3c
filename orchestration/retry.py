"""Run one step with its retry policy, driven by durable timers.

Python's `RetryOptions` knows only a first interval and an attempt count: no backoff, no cap,
no way to tell a 429 from a 400, and activities cannot learn which attempt they are. So the
orchestrator drives retries itself: each attempt is a plain activity call carrying its attempt
number, and a durable timer waits out the backoff (or the service's Retry-After) in between.
Errors that retrying cannot fix end the step at once, with one exception: an access denied
(401/403) is retried until the policy's access-denied window has passed since the step's first
attempt, because new role assignments take minutes to apply after a deployment.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from contracts import RetryPolicy, StepError, StepName
from orchestration.failures import step_error

__all__ = ["RetryTally", "StepFailed", "call_step"]


class RetryTally:
    """Retries a run has made so far, over all its steps, for its custom status (the monitor's runs list).

    Counted again on every replay from the same history, so it is as deterministic as the calls it counts.
    """

    def __init__(self) -> None:
        self.count = 0

    def status(self) -> dict[str, int]:
        return {"retries": self.count} if self.count else {}


class StepFailed(Exception):
    """A step failed for good: not retryable, or its attempts ran out."""

    def __init__(self, step: StepName, error: StepError, attempts: int) -> None:
        super().__init__(f"step {step.value} failed after {attempts} attempt(s) ({error.kind.value}): {error.message}")
        self.step = step
        self.error = error
        self.attempts = attempts


def call_step(
    context: df.DurableOrchestrationContext,
    step: StepName,
    payload: dict[str, Any],
    policy: RetryPolicy,
    tally: RetryTally | None = None,
) -> Generator[Any, Any, Any]:
    """Call the step's activity until it succeeds, fails for good, or the policy is spent."""
    first_attempt_at = context.current_utc_datetime  # the replay-safe clock
    window = timedelta(milliseconds=policy.access_denied_window_ms)
    attempt = 0
    while True:
        attempt += 1
        context.set_custom_status({"step": step.value, "attempt": attempt, **(tally.status() if tally else {})})
        task = context.call_activity(step.value, {**payload, "attempt": attempt})
        try:
            return (yield task)
        except Exception as failure:  # the SDK raises a bare Exception for a failed task
            error = step_error(context, task, failure)
            retryable = error.kind.retryable and attempt < policy.max_attempts
            waiting_for_roles = error.access_denied and context.current_utc_datetime - first_attempt_at < window
            if not (retryable or waiting_for_roles):
                raise StepFailed(step, error, attempt) from None
            if tally is not None:
                tally.count += 1
            delay = timedelta(milliseconds=policy.delay_ms(attempt, error.retry_after_s))
            yield context.create_timer(context.current_utc_datetime + delay)
