"""`generate_answer`: reads the hits' full text from the index by id, then answers with citations."""

from __future__ import annotations

from dataclasses import replace

import azure.durable_functions as df

from activities._step import run_step
from config import get_settings
from contracts import Citation, GenerateAnswerInput, GeneratedAnswer, StepName, Usage
from providers.factory import get_generator, get_retriever, provider_plan
from telemetry import annotate_step, model_span

__all__ = ["ACTIVITY_NAME", "bp"]

ACTIVITY_NAME = StepName.GENERATE_ANSWER.value
bp = df.Blueprint()


def _clip(text: str, limit: int) -> str:
    """Quotes are kept short (they travel in history and events); cut at a word boundary."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _generate(payload: GenerateAnswerInput) -> GeneratedAnswer:
    limit = get_settings().pipeline_snippet_chars
    scores = {ref.id: ref.score for ref in payload.passages}
    # Full text is read here, not carried through history (claim check by passage id), under the run's
    # scopes: an id the search could not have returned to this run is refused here too.
    fetched = get_retriever().fetch(list(scores), scopes=payload.scopes) if scores else []
    passages = {p.id: replace(p, score=scores[p.id]) for p in fetched}
    generator = get_generator()
    with model_span("chat", provider=provider_plan().generation, request_model=generator.model) as call:
        answer = generator.answer(payload.question, list(passages.values()))
        call.response(model=answer.model, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens)
        call.content(question=payload.question, answer=answer.text)
    citations = [
        Citation(
            id=pid,
            title=passages[pid].title,
            source=passages[pid].source,
            score=passages[pid].score,
            quote=_clip(quote, limit),
            page=passages[pid].page,
        )
        for pid, quote in answer.quotes.items()
        if pid in passages
    ]
    annotate_step(result_count=len(citations), scopes=payload.scopes)
    return GeneratedAnswer(
        answer=answer.text,
        citations=citations,
        model=answer.model,
        usage=Usage(input_tokens=answer.input_tokens, output_tokens=answer.output_tokens),
        confidence=answer.confidence,
    )


@bp.activity_trigger(input_name="payload", activity=ACTIVITY_NAME)
def generate_answer(payload: dict) -> dict:  # plain classes: see activities/__init__.py
    return run_step(ACTIVITY_NAME, GenerateAnswerInput, payload, _generate)
