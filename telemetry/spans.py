"""Span helpers: continue a W3C trace from a `traceparent`, wrap each step attempt in a span.

A step span is the only thing an activity needs to be traced: it continues the run's trace from
the `traceparent` the orchestrator passes in (activities run on worker threads or other machines,
so the trace cannot travel in a context variable), records the attempt's duration and retries as
metrics, and marks the span failed with the error's kind. The orchestrator itself creates no span,
so its replays cannot duplicate any.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from contracts import ErrorKind
from telemetry.metrics import record_step_attempt

__all__ = [
    "TRACER_NAME",
    "annotate_step",
    "context_from_traceparent",
    "current_traceparent",
    "error_kind",
    "record_error",
    "recorded_span",
    "starter_span",
    "step_span",
]

TRACER_NAME = "durable_ai_pipeline"
_propagator = TraceContextTextMapPropagator()


def tracer() -> trace.Tracer:
    """The pipeline's tracer, from the global provider (a no-op one until telemetry is configured)."""
    return trace.get_tracer(TRACER_NAME)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The OpenTelemetry context a `traceparent` header describes (None if absent or malformed)."""
    if not traceparent:
        return None
    ctx = _propagator.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(ctx).get_span_context()
    return ctx if span_context.is_valid else None


def current_traceparent() -> str | None:
    """The `traceparent` of the active span, to hand on to the next hop."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def error_kind(exc: BaseException) -> str:
    """The pipeline's error kind of an exception (`ProviderError.kind`, `ActivityFailed.error.kind`).

    Read by attribute so telemetry needs neither providers nor activities; anything else is
    `internal`, the kind the orchestrator gives an unmarked failure.
    """
    kind = getattr(exc, "kind", None) or getattr(getattr(exc, "error", None), "kind", None)
    return kind.value if isinstance(kind, ErrorKind) else ErrorKind.INTERNAL.value


def record_error(span: Span, exc: BaseException) -> str:
    """Mark `span` failed: ERROR status, an `exception` event and `error.type`; returns the kind.

    The status description is the error kind, not the message: messages of service errors can
    quote what was sent, and the exception event already carries the message.
    """
    kind = error_kind(exc)
    span.record_exception(exc)
    span.set_attribute("error.type", kind)
    # Application Insights drops `error.type` from customDimensions (it treats it as an HTTP field);
    # the dashboards group failures by this copy.
    span.set_attribute("pipeline.error_kind", kind)
    span.set_status(Status(StatusCode.ERROR, kind))
    return kind


def annotate_step(**attributes: AttributeValue) -> None:
    """Add `pipeline.<name>` attributes (e.g. `top_k`, `result_count`) to the current step span."""
    span = trace.get_current_span()
    for name, value in attributes.items():
        span.set_attribute(f"pipeline.{name}", value)


@contextmanager
def recorded_span(
    name: str,
    *,
    kind: SpanKind,
    attributes: Mapping[str, AttributeValue],
    context: otel_context.Context | None = None,
) -> Iterator[Span]:
    """The one way this package opens a span: an escaping exception is recorded once, by `record_error`
    (status = the error kind, not the message), instead of by the SDK's defaults."""
    with tracer().start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            record_error(span, exc)
            raise


@contextmanager
def step_span(step: str, *, instance_id: str, attempt: int, traceparent: str | None) -> Iterator[Span]:
    """One span per step attempt, child of the run's trace; errors and the duration are recorded."""
    started = time.perf_counter()
    with recorded_span(
        f"pipeline.{step}",
        context=context_from_traceparent(traceparent),
        kind=SpanKind.INTERNAL,
        attributes={"pipeline.step": step, "pipeline.instance_id": instance_id, "pipeline.attempt": attempt},
    ) as span:
        try:
            yield span
        except Exception as exc:
            seconds = time.perf_counter() - started
            record_step_attempt(step, attempt=attempt, seconds=seconds, outcome="failure", error_kind=error_kind(exc))
            raise
        record_step_attempt(step, attempt=attempt, seconds=time.perf_counter() - started, outcome="success")


@contextmanager
def starter_span(
    name: str, *, kind: SpanKind, traceparent: str | None, attributes: dict[str, AttributeValue]
) -> Iterator[Span]:
    """The span of a starter (HTTP server or Service Bus consumer), continuing the caller's trace."""
    with recorded_span(name, context=context_from_traceparent(traceparent), kind=kind, attributes=attributes) as span:
        yield span
