"""Tracing and metrics for the pipeline.

Everything outside this package uses the OpenTelemetry *API* only; with no SDK configured the
calls are no-ops and cost next to nothing.
"""

from telemetry.spans import TRACER_NAME, context_from_traceparent, current_traceparent, starter_span, step_span

__all__ = ["TRACER_NAME", "context_from_traceparent", "current_traceparent", "starter_span", "step_span"]
