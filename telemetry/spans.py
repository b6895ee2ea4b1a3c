"""Span helpers: continue a W3C trace from a `traceparent` and wrap each step attempt in a span."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["TRACER_NAME", "context_from_traceparent", "current_traceparent", "starter_span", "step_span"]

TRACER_NAME = "durable_ai_pipeline"
_propagator = TraceContextTextMapPropagator()


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


@contextmanager
def step_span(step: str, *, instance_id: str, attempt: int, traceparent: str | None) -> Iterator[Span]:
    """One span per step attempt, child of the run's trace; errors are recorded on it."""
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"pipeline.{step}",
        context=context_from_traceparent(traceparent),
        kind=SpanKind.INTERNAL,
        attributes={"pipeline.step": step, "pipeline.instance_id": instance_id, "pipeline.attempt": attempt},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


@contextmanager
def starter_span(
    name: str, *, kind: SpanKind, traceparent: str | None, attributes: dict[str, str | int]
) -> Iterator[Span]:
    """The span of a starter (HTTP server or Service Bus consumer), continuing the caller's trace."""
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        name, context=context_from_traceparent(traceparent), kind=kind, attributes=attributes
    ) as span:
        yield span
