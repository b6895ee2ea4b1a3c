"""Run a questions file through retrieval and the answer step, and score it.

Each line of the file is `{"question": str, "expected_sources": [str, ...], "expected_terms": [str, ...],
"expected_page": int}`; `expected_sources: []` marks a question the documents do not answer (the right answer
is the refusal), `expected_terms` (optional) are phrases of which an on-point answer holds one, and
`expected_page` (optional) is the 1-based page (slide) of the expected source that states the fact.
Retrieval asks for max(top_k, 3) passages so hit@3 is known whatever `top_k` is; the answer step
gets the first `top_k`, as the pipeline's `generate_answer` would. The providers are passed in, so
the same code scores the local defaults or Azure services.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluation.metrics import QuestionScore, Summary, first_hit_rank, summarize
from providers.base import Answer, AnswerGenerator, Embedder, Passage, Retriever
from providers.errors import ProviderError
from providers.refusal import is_refusal

__all__ = ["QUESTIONS_FILE", "EvalQuestion", "EvalReport", "evaluate", "load_questions", "score_answer"]

QUESTIONS_FILE = Path(__file__).resolve().parent / "questions.jsonl"

Progress = Callable[[int, int], None]  # (questions done, questions total)


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    question: str
    expected_sources: list[str]
    expected_terms: tuple[str, ...] = ()
    expected_page: int | None = None


@dataclass(slots=True)
class EvalReport:
    summary: Summary
    scores: list[QuestionScore]
    providers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": asdict(self.summary),
            "providers": self.providers,
            "questions": [
                {
                    **asdict(s),
                    "hit_at_1": s.hit_at(1),
                    "hit_at_3": s.hit_at(3),
                    "cites_expected": s.cites_expected,
                    "on_point": s.on_point,
                    "leads_on_point": s.leads_on_point,
                    "cites_expected_page": s.cites_expected_page,
                    "correct": s.correct,
                }
                for s in self.scores
            ],
        }


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """The questions of a JSONL file; `ProviderError.invalid_input` names the first bad line and why."""
    questions: list[EvalQuestion] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ProviderError.invalid_input(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line)))
        except json.JSONDecodeError as error:
            raise ProviderError.invalid_input(f"{path}:{number}: not JSON ({error.msg})") from error
        except ValueError as error:
            raise ProviderError.invalid_input(f"{path}:{number}: {error}") from error
    if not questions:
        raise ProviderError.invalid_input(f"{path} holds no questions")
    return questions


def _question(item: object) -> EvalQuestion:
    if not isinstance(item, dict):
        raise ValueError("each line must be a JSON object")
    question, expected, terms = item.get("question"), item.get("expected_sources"), item.get("expected_terms", [])
    if not isinstance(question, str) or not question.strip():
        raise ValueError('"question" must be a non-empty string')
    if "expected_sources" not in item:
        raise ValueError(
            '"expected_sources" is missing (a list of sources; [] for a question the documents do not answer)'
        )
    if not isinstance(expected, list) or not all(isinstance(s, str) and s for s in expected):
        raise ValueError('"expected_sources" must be a list of source names')
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        raise ValueError('"expected_terms" must be a list of non-empty strings')
    if terms and not expected:
        raise ValueError('"expected_terms" given for a question with no expected sources')
    page = item.get("expected_page")
    if page is not None and (type(page) is not int or page < 1 or not expected):
        raise ValueError('"expected_page" must be a page number (1 or more) of a question with expected sources')
    return EvalQuestion(question.strip(), list(expected), tuple(t.strip() for t in terms), page)


def score_answer(item: EvalQuestion, passages: Sequence[Passage], answer: Answer, *, seconds: float) -> QuestionScore:
    """How one answer fared: where retrieval put an expected source, what the answer cites, whether it refused."""
    by_id = {p.id: p for p in passages}
    retrieved = [p.source for p in passages]
    cited = [by_id[i] for i in answer.quotes if i in by_id]
    return QuestionScore(
        question=item.question,
        expected_sources=item.expected_sources,
        retrieved_sources=retrieved,
        cited_sources=list(dict.fromkeys(p.source for p in cited)),
        rank=first_hit_rank(retrieved, item.expected_sources),
        answer=answer.text,
        refused=is_refusal(answer.text),
        seconds=seconds,
        expected_terms=item.expected_terms,
        expected_page=item.expected_page,
        cited_pages=tuple((p.source, p.page) for p in cited),
        confidence=answer.confidence,
    )


def evaluate(
    questions: Sequence[EvalQuestion],
    *,
    embedder: Embedder,
    retriever: Retriever,
    generator: AnswerGenerator,
    top_k: int = 3,
    providers: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Score every question; provider errors propagate (a broken setup should not score zero quietly)."""
    if top_k < 1:
        raise ProviderError.invalid_input("top_k must be at least 1")
    scores: list[QuestionScore] = []
    for done, item in enumerate(questions, start=1):
        started = time.perf_counter()
        vector = embedder.embed([item.question]).vectors[0]
        passages = retriever.search(item.question, vector, top_k=max(top_k, 3))
        answer = generator.answer(item.question, passages[:top_k])
        scores.append(score_answer(item, passages, answer, seconds=time.perf_counter() - started))
        if progress:
            progress(done, len(questions))
    return EvalReport(summarize(scores, top_k=top_k), scores, dict(providers or {}))
