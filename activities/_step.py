"""What every activity does around its provider call: parse, span, time, translate errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config import SettingsError
from contracts import ErrorKind, StepError, StepInput
from providers.errors import ProviderError
from telemetry import step_span

__all__ = ["ActivityFailed", "run_step"]

In = TypeVar("In", bound=StepInput)


class ActivityFailed(Exception):
    """Raised to fail an attempt; its message carries the `StepError` the orchestrator reads back."""

    def __init__(self, error: StepError) -> None:
        super().__init__(error.to_exception_message())
        self.error = error


def _parse(model: type[In], raw: Any) -> In:
    try:
        if isinstance(raw, str | bytes):
            raw = json.loads(raw)
        return model.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        raise ActivityFailed(StepError(kind=ErrorKind.INVALID_INPUT, message=_describe(exc))) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()[:5])
    return f"input is not JSON: {exc}"


def run_step(step: str, model: type[In], raw: Any, work: Callable[[In], BaseModel]) -> dict[str, Any]:
    """Run one attempt of `step`: the result is dumped to JSON with the attempt's duration."""
    payload = _parse(model, raw)
    with step_span(step, instance_id=payload.instance_id, attempt=payload.attempt, traceparent=payload.traceparent):
        started = time.perf_counter()
        try:
            output = work(payload)
        except ProviderError as exc:
            raise ActivityFailed(exc.to_step_error()) from None
        except SettingsError as exc:  # no retry mends a setting: the run fails at once, naming it
            raise ActivityFailed(StepError(kind=ErrorKind.CONFIGURATION, message=str(exc))) from None
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if "duration_ms" in type(output).model_fields:
        output = output.model_copy(update={"duration_ms": elapsed_ms})
    return output.model_dump(mode="json")
