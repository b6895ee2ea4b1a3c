"""Scores of a retrieval run: hit@k, mean reciprocal rank and answer citation, per question and overall.

A question "hits" at k when one of its first k passages comes from an expected source; its
reciprocal rank is 1 / the rank of the first such passage (0 when none was retrieved). Ranks are
passage ranks, not source ranks, because that is what the answer step receives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["QuestionScore", "Summary", "first_hit_rank", "summarize"]


def first_hit_rank(retrieved_sources: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first passage from an expected source, or None."""
    wanted = set(expected)
    for rank, source in enumerate(retrieved_sources, start=1):
        if source in wanted:
            return rank
    return None


@dataclass(frozen=True, slots=True)
class QuestionScore:
    question: str
    expected_sources: list[str]
    retrieved_sources: list[str]  # source of each retrieved passage, best first
    cited_sources: list[str]  # sources the answer cites, in citation order
    rank: int | None  # first_hit_rank of retrieved_sources
    answer: str
    seconds: float

    def hit_at(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k

    @property
    def reciprocal_rank(self) -> float:
        return 1.0 / self.rank if self.rank else 0.0

    @property
    def cites_expected(self) -> bool:
        return bool(set(self.cited_sources) & set(self.expected_sources))


@dataclass(frozen=True, slots=True)
class Summary:
    questions: int
    top_k: int
    hit_at_1: float
    hit_at_3: float
    hit_at_k: float
    mrr: float
    answer_cites_expected: float
    mean_seconds: float


def summarize(scores: Sequence[QuestionScore], *, top_k: int) -> Summary:
    """Means over the questions (all zero for an empty set)."""
    n = len(scores)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / n if n else 0.0

    return Summary(
        questions=n,
        top_k=top_k,
        hit_at_1=mean(float(s.hit_at(1)) for s in scores),
        hit_at_3=mean(float(s.hit_at(3)) for s in scores),
        hit_at_k=mean(float(s.hit_at(top_k)) for s in scores),
        mrr=mean(s.reciprocal_rank for s in scores),
        answer_cites_expected=mean(float(s.cites_expected) for s in scores),
        mean_seconds=mean(s.seconds for s in scores),
    )
