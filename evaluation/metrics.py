"""Scores of an evaluation run, per question and overall: what retrieval found and what readers got.

A question "hits" at k when one of its first k passages comes from an expected source; its
reciprocal rank is 1 / the rank of the first such passage (0 when none was retrieved). Ranks are
passage ranks, not source ranks, because that is what the answer step receives.

A question with no expected sources is unanswerable from the documents: the right answer is the
refusal. Retrieval and citation scores are means over the answerable questions; the refusal rate
is over the unanswerable ones, and the false-refusal rate over the answerable ones. "On point"
asks whether an answer states the key fact: it contains one of the question's `expected_terms`; "leads on
point" whether its first sentence already does (the reader gets the fact first).
"Page exact", for a question whose fact is on a known page of a paginated source (`expected_page`), asks
whether the answer cites that page of an expected source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["QuestionScore", "Summary", "cited_sentence_share", "first_hit_rank", "summarize"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(])|(?<=\])\s+(?=[A-Z0-9`\"'(])")
_MARKER = re.compile(r"\[\d+\]")


def first_hit_rank(retrieved_sources: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first passage from an expected source, or None."""
    wanted = set(expected)
    for rank, source in enumerate(retrieved_sources, start=1):
        if source in wanted:
            return rank
    return None


def cited_sentence_share(answer: str) -> float:
    """The share of an answer's sentences (split after `.`, `!`, `?` or a citation) that carry a `[n]` marker."""
    sentences = [s for s in _SENTENCE_END.split(answer.strip()) if s.strip()]
    if not sentences:
        return 0.0
    return sum(1 for s in sentences if _MARKER.search(s)) / len(sentences)


@dataclass(frozen=True, slots=True)
class QuestionScore:
    question: str
    expected_sources: list[str]  # empty: the documents do not answer it
    retrieved_sources: list[str]  # source of each retrieved passage, best first
    cited_sources: list[str]  # sources the answer cites, in citation order
    rank: int | None  # first_hit_rank of retrieved_sources
    answer: str
    refused: bool
    seconds: float
    expected_terms: tuple[str, ...] = ()
    expected_page: int | None = None  # the page (slide) of an expected source that states the fact
    cited_pages: tuple[tuple[str, int | None], ...] = ()  # (source, page) of each citation
    confidence: float | None = None  # the generator's probability that the passages answer

    @property
    def cites_expected_page(self) -> bool | None:
        """Whether a citation points at the expected page of an expected source (None when no page is expected)."""
        if self.expected_page is None or not self.answerable:
            return None
        return any(s in self.expected_sources and p == self.expected_page for s, p in self.cited_pages)

    @property
    def answerable(self) -> bool:
        return bool(self.expected_sources)

    def hit_at(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k

    @property
    def reciprocal_rank(self) -> float:
        return 1.0 / self.rank if self.rank else 0.0

    @property
    def cites_expected(self) -> bool:
        return bool(set(self.cited_sources) & set(self.expected_sources))

    @property
    def on_point(self) -> bool | None:
        """Whether the answer holds one of the expected terms (None when the question lists none)."""
        if not self.expected_terms or not self.answerable:
            return None
        text = self.answer.lower()
        return not self.refused and any(term.lower() in text for term in self.expected_terms)

    @property
    def leads_on_point(self) -> bool | None:
        """Whether the answer's first sentence (up to its first citation marker) already holds an expected term."""
        if not self.expected_terms or not self.answerable:
            return None
        found = _MARKER.search(self.answer)
        first = (self.answer[: found.start()] if found else self.answer).lower()
        return not self.refused and any(term.lower() in first for term in self.expected_terms)

    @property
    def correct(self) -> bool:
        """What a reader wants: a refusal when nothing answers it, else an answer citing a right source."""
        return self.refused if not self.answerable else (self.cites_expected and self.on_point is not False)


@dataclass(frozen=True, slots=True)
class Summary:
    questions: int
    answerable: int
    unanswerable: int
    top_k: int
    hit_at_1: float
    hit_at_3: float
    hit_at_k: float
    mrr: float
    answer_cites_expected: float
    on_point: float  # over answerable questions that list expected terms
    leads_on_point: float  # ... whose answer's first sentence already holds the key fact
    page_exact: float  # over answerable questions with an expected page: the answer cites that page
    refusal_on_unanswerable: float
    false_refusals: float
    sentences_cited: float  # mean share of cited sentences, over the answers that are not refusals
    correct: float
    mean_seconds: float
    # How well `confidence` matches what happened: the Brier score against "an expected source was among the
    # passages of an answerable question", and per band (name, questions, mean confidence, observed share).
    confidence_brier: float | None = None
    confidence_bands: tuple[tuple[str, int, float, float], ...] = ()


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


_BANDS = ((0.0, 0.33), (0.33, 0.66), (0.66, 0.9), (0.9, 1.0001))


def _calibration(
    scores: Sequence[QuestionScore], top_k: int
) -> tuple[float | None, tuple[tuple[str, int, float, float], ...]]:
    pairs = [(s.confidence, float(s.answerable and s.hit_at(top_k))) for s in scores if s.confidence is not None]
    if not pairs:
        return None, ()
    brier = _mean((c - y) ** 2 for c, y in pairs)
    bands = []
    for low, high in _BANDS:
        inside = [(c, y) for c, y in pairs if low <= c < high]
        if inside:
            name = f"{low:.2f}–{min(high, 1.0):.2f}"
            bands.append((name, len(inside), _mean(c for c, _ in inside), _mean(y for _, y in inside)))
    return brier, tuple(bands)


def summarize(scores: Sequence[QuestionScore], *, top_k: int) -> Summary:
    """Means over the relevant questions (zero where a group is empty)."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    with_terms = [s for s in answerable if s.expected_terms]
    with_page = [s for s in answerable if s.expected_page is not None]
    brier, bands = _calibration(scores, top_k)
    return Summary(
        questions=len(scores),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        top_k=top_k,
        hit_at_1=_mean(float(s.hit_at(1)) for s in answerable),
        hit_at_3=_mean(float(s.hit_at(3)) for s in answerable),
        hit_at_k=_mean(float(s.hit_at(top_k)) for s in answerable),
        mrr=_mean(s.reciprocal_rank for s in answerable),
        answer_cites_expected=_mean(float(s.cites_expected) for s in answerable),
        on_point=_mean(float(bool(s.on_point)) for s in with_terms),
        leads_on_point=_mean(float(bool(s.leads_on_point)) for s in with_terms),
        page_exact=_mean(float(bool(s.cites_expected_page)) for s in with_page),
        refusal_on_unanswerable=_mean(float(s.refused) for s in unanswerable),
        false_refusals=_mean(float(s.refused) for s in answerable),
        sentences_cited=_mean(cited_sentence_share(s.answer) for s in scores if not s.refused),
        correct=_mean(float(s.correct) for s in scores),
        mean_seconds=_mean(s.seconds for s in scores),
        confidence_brier=brier,
        confidence_bands=bands,
    )
