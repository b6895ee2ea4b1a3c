"""Tracing and metrics for the pipeline.

Everything outside this package uses the OpenTelemetry *API* only (through these helpers); with no
SDK configured the calls are no-ops and cost next to nothing. `configure_telemetry()` installs the
SDK and exporters once per process (see `telemetry.setup`).

Spans of one run, all in the trace of the `traceparent` the producer sent:

    POST /api/pipeline/start (SERVER) | questions process (CONSUMER)     starter
    ├── pipeline.embed_query            one per attempt                   step spans (INTERNAL)
    │   └── embeddings {model}          (CLIENT, GenAI)
    ├── pipeline.search_documents
    │   └── retrieval {data source}     (CLIENT, GenAI retrieval)
    ├── pipeline.generate_answer
    │   └── chat {model}                (CLIENT, GenAI)
    └── pipeline.publish_result
        └── send {destination}          (PRODUCER, Event Grid); the event's traceparent is this span
"""

from telemetry.genai import ModelCall, model_span, retrieval_span
from telemetry.messaging import publish_span
from telemetry.metrics import METER_NAME, record_run
from telemetry.setup import DEFAULT_SERVICE_NAME, configure_telemetry
from telemetry.spans import (
    TRACER_NAME,
    annotate_step,
    context_from_traceparent,
    current_traceparent,
    error_kind,
    record_error,
    starter_span,
    step_span,
)

__all__ = [
    "DEFAULT_SERVICE_NAME",
    "METER_NAME",
    "TRACER_NAME",
    "ModelCall",
    "annotate_step",
    "configure_telemetry",
    "context_from_traceparent",
    "current_traceparent",
    "error_kind",
    "model_span",
    "publish_span",
    "record_error",
    "record_run",
    "retrieval_span",
    "starter_span",
    "step_span",
]
