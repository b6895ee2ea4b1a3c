"""`search_documents`: hybrid search; returns passage ids, titles and scores, not passage text."""

from __future__ import annotations

import azure.durable_functions as df

from activities._step import run_step
from contracts import SearchDocumentsInput, SearchHit, SearchResults, StepName
from providers.factory import get_retriever, provider_plan
from telemetry import annotate_step, retrieval_span

__all__ = ["ACTIVITY_NAME", "bp"]

ACTIVITY_NAME = StepName.SEARCH_DOCUMENTS.value
bp = df.Blueprint()


def _search(payload: SearchDocumentsInput) -> SearchResults:
    retriever = get_retriever()
    with retrieval_span(provider=provider_plan().retrieval, top_k=payload.top_k, query=payload.question):
        passages = retriever.search(
            payload.question, payload.embedding.vector(), top_k=payload.top_k, scopes=payload.scopes
        )
    hits = [SearchHit(id=p.id, title=p.title, source=p.source, score=round(p.score, 6), page=p.page) for p in passages]
    annotate_step(top_k=payload.top_k, result_count=len(hits), scopes=payload.scopes)
    return SearchResults(hits=hits, retriever=retriever.name)


@bp.activity_trigger(input_name="payload", activity=ACTIVITY_NAME)
def search_documents(payload: dict) -> dict:  # plain classes: see activities/__init__.py
    return run_step(ACTIVITY_NAME, SearchDocumentsInput, payload, _search)
