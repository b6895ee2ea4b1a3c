"""`embed_query`: the question's vector, compact enough for orchestration history."""

from __future__ import annotations

import azure.durable_functions as df

from activities._step import run_step
from contracts import EmbedQueryInput, QueryEmbedding, StepName
from providers.factory import get_embedder, provider_plan
from telemetry import annotate_step, model_span

__all__ = ["ACTIVITY_NAME", "bp"]

ACTIVITY_NAME = StepName.EMBED_QUERY.value
bp = df.Blueprint()


def _embed(payload: EmbedQueryInput) -> QueryEmbedding:
    embedder = get_embedder()
    with model_span("embeddings", provider=provider_plan().embeddings, request_model=embedder.model) as call:
        embeddings = embedder.embed([payload.question])
        call.response(model=embeddings.model, input_tokens=embeddings.input_tokens)
    annotate_step(result_count=len(embeddings.vectors))
    return QueryEmbedding.from_vector(
        embeddings.vectors[0], model=embeddings.model, input_tokens=embeddings.input_tokens
    )


@bp.activity_trigger(input_name="payload", activity=ACTIVITY_NAME)
def embed_query(payload: dict) -> dict:  # plain classes: see activities/__init__.py
    return run_step(ACTIVITY_NAME, EmbedQueryInput, payload, _embed)
