"""Client spans for model calls and retrieval, after the OpenTelemetry GenAI semantic conventions.

Model calls (`embeddings`, `chat`) get a CLIENT span named `{operation} {model}` with
`gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model` and
`gen_ai.usage.*`, and feed the `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`
histograms. Retrieval gets the GenAI `retrieval` span (`retrieval {data source}`), which current
semantic conventions define for RAG lookups, rather than a database span: the index is a search
service, not a database the app queries in a query language.

`gen_ai.system` (the older name of `gen_ai.provider.name`) is set too, because Application
Insights types a dependency as `GenAI | <system>` from it. Text (question, answer) goes on a span
only when `PIPELINE_RECORD_CONTENT` opts in, as the opt-in content attributes the conventions name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from opentelemetry.trace import Span, SpanKind

from telemetry.content import record_content
from telemetry.metrics import record_operation_duration, record_tokens
from telemetry.spans import error_kind, recorded_span

__all__ = ["GenAIProvider", "ModelCall", "model_span", "retrieval_span"]


class GenAIProvider(Protocol):
    """What a span says of the provider serving a role (`providers.plan.RolePlan` is one)."""

    @property
    def genai_provider(self) -> str:
        """`gen_ai.provider.name`."""

    @property
    def data_source(self) -> str:
        """`gen_ai.data_source.id` of a retriever."""


@dataclass
class ModelCall:
    """The open span of one model call; tell it what the model answered."""

    span: Span
    metric_attributes: dict[str, str]
    usage: tuple[int, int] = field(default=(0, 0))

    def response(self, *, model: str | None, input_tokens: int = 0, output_tokens: int = 0) -> None:
        if model:
            self.span.set_attribute("gen_ai.response.model", model)
            self.metric_attributes["gen_ai.response.model"] = model
        if input_tokens:
            self.span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens:
            self.span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        self.usage = (input_tokens, output_tokens)

    def content(self, *, question: str, answer: str | None = None) -> None:
        """Question and answer as `gen_ai.input.messages`/`gen_ai.output.messages`, only if opted in."""
        if not record_content():
            return
        user = [{"role": "user", "parts": [{"type": "text", "content": question}]}]
        self.span.set_attribute("gen_ai.input.messages", json.dumps(user))
        if answer is not None:
            reply = [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
            self.span.set_attribute("gen_ai.output.messages", json.dumps(reply))


@contextmanager
def model_span(
    operation: Literal["embeddings", "chat"], *, provider: GenAIProvider, request_model: str
) -> Iterator[ModelCall]:
    """A CLIENT span around one model call by the provider of its role."""
    system = provider.genai_provider
    attributes = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": system,
        "gen_ai.system": system,
        "gen_ai.request.model": request_model,
    }
    started = time.perf_counter()
    with recorded_span(f"{operation} {request_model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        call = ModelCall(span, dict(attributes))
        try:
            yield call
        except Exception as exc:
            call.metric_attributes["error.type"] = error_kind(exc)
            raise
        finally:
            metric_attributes = {k: v for k, v in call.metric_attributes.items() if k != "gen_ai.system"}
            record_operation_duration(metric_attributes, time.perf_counter() - started)
            record_tokens(metric_attributes, input_tokens=call.usage[0], output_tokens=call.usage[1])


@contextmanager
def retrieval_span(*, provider: GenAIProvider, top_k: int, query: str) -> Iterator[Span]:
    """A CLIENT span around a search of the index (GenAI `retrieval` operation).

    The query text is recorded only when content recording is opted in.
    """
    system = provider.genai_provider
    data_source = provider.data_source
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.provider.name": system,
        "gen_ai.system": system,
        "gen_ai.data_source.id": data_source,
        "gen_ai.retrieval.top_k": top_k,
    }
    if record_content():
        attributes["gen_ai.retrieval.query.text"] = query
    with recorded_span(f"retrieval {data_source}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        yield span
