"""The local answer generator: an answer composed only of sentences quoted from the passages, each cited.

It never writes a word of its own beyond the citation markers and, when nothing fits, one fixed
sentence saying so. Sentences are scored by the question words they contain, each weighted by
how rare it is among the passages' sentences (a word every sentence has tells nothing), times
how much of the question they cover. A sentence also counts, at half weight, the question words
of its section's heading path: "It is not retried." answers "what happens to an invalid message"
when it stands under "Dead-lettering invalid messages". Better-ranked passages get a small
preference. The best few that do not repeat each other are kept and read in document order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from providers.base import Answer, Passage
from providers.errors import ProviderError
from providers.local.chunking import split_sentences
from providers.local.hashing_embedder import tokenize
from providers.refusal import NO_ANSWER, refusal

__all__ = ["NO_ANSWER", "ExtractiveAnswerer"]


_MIN_SENTENCE_CHARS = 25
_MAX_SENTENCE_CHARS = 500
_HEADING_WEIGHT = 0.5  # a section heading says what its sentences are about, less directly than they do
_CODE_LIKE = re.compile(r"[{}<>=]|^[^\w\"'(]")


@dataclass(slots=True)
class _Candidate:
    passage: int  # rank of its passage, 0 = best
    position: int  # order within the passage
    text: str
    terms: frozenset[str]
    context: frozenset[str]  # terms of the passage's title (its heading path)
    score: float = 0.0


class ExtractiveAnswerer:
    """Pick the 1-`max_sentences` most relevant, non-redundant sentences (about `max_chars` in all)."""

    def __init__(
        self,
        *,
        max_sentences: int = 4,
        max_chars: int = 600,
        min_coverage: float = 0.3,
        redundancy: float = 0.6,
    ) -> None:
        self._max_sentences = max_sentences
        self._max_chars = max_chars
        self._min_coverage = min_coverage
        self._redundancy = redundancy

    @property
    def model(self) -> str:
        return "local-extractive-v1"

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        if not isinstance(question, str) or not question.strip():
            raise ProviderError.invalid_input("the question is empty")
        query = set(tokenize(question))
        candidates = self._candidates(passages)
        if not query or not candidates:
            return self._no_answer()

        idf = self._idf(candidates, query)
        query_weight = sum(idf[t] for t in query)
        for candidate in candidates:
            matched = candidate.terms & query
            from_heading = (candidate.context & query) - matched
            coverage = (
                sum(idf[t] for t in matched) + _HEADING_WEIGHT * sum(idf[t] for t in from_heading)
            ) / query_weight
            # Rank prior: the retriever's order is evidence too, but weaker than the words themselves.
            candidate.score = coverage * (1.0 / (1.0 + 0.1 * candidate.passage)) if matched else 0.0

        chosen = self._select(candidates)
        if not chosen:
            return self._no_answer()
        return self._compose(chosen, passages)

    def _candidates(self, passages: Sequence[Passage]) -> list[_Candidate]:
        candidates: list[_Candidate] = []
        seen: set[str] = set()
        for rank, passage in enumerate(passages):
            context = frozenset(tokenize(passage.title))
            for position, sentence in enumerate(split_sentences(passage.content)):
                # Fragments, run-ons and code or config lines make poor quotes.
                if not _MIN_SENTENCE_CHARS <= len(sentence) <= _MAX_SENTENCE_CHARS:
                    continue
                if _CODE_LIKE.search(sentence.replace("`", "")) or sentence in seen:
                    continue
                if sentence.endswith(":"):
                    continue  # a lead-in to a list says nothing without the list
                seen.add(sentence)
                candidates.append(_Candidate(rank, position, sentence, frozenset(tokenize(sentence)), context))
        return candidates

    @staticmethod
    def _idf(candidates: list[_Candidate], query: set[str]) -> dict[str, float]:
        n = len(candidates)
        df = dict.fromkeys(query, 0)
        for candidate in candidates:
            for term in candidate.terms & query:
                df[term] += 1
        # Smoothed idf; a question word no sentence has gets the highest weight, so a question
        # that is mostly about something absent scores low coverage everywhere.
        return {term: math.log(1.0 + (n + 1) / (count + 0.5)) for term, count in df.items()}

    def _select(self, candidates: list[_Candidate]) -> list[_Candidate]:
        ranked = sorted(candidates, key=lambda c: (-c.score, c.passage, c.position))
        best = ranked[0].score
        if best < self._min_coverage:
            return []
        chosen: list[_Candidate] = []
        used = 0
        for candidate in ranked:
            if len(chosen) == self._max_sentences or candidate.score < max(self._min_coverage, 0.5 * best):
                break
            if any(_overlap(candidate.terms, other.terms) > self._redundancy for other in chosen):
                continue
            if chosen and used + len(candidate.text) > self._max_chars:
                continue
            chosen.append(candidate)
            used += len(candidate.text) + 1
        return chosen

    def _compose(self, chosen: list[_Candidate], passages: Sequence[Passage]) -> Answer:
        # Read in the retriever's passage order, and each passage's sentences in their own order.
        chosen.sort(key=lambda c: (c.passage, c.position))
        numbers: dict[int, int] = {}
        quotes: dict[str, list[_Candidate]] = {}
        parts: list[str] = []
        for candidate in chosen:
            passage_id = passages[candidate.passage].id
            number = numbers.setdefault(candidate.passage, len(numbers) + 1)
            quotes.setdefault(passage_id, []).append(candidate)
            parts.append(f"{candidate.text} [{number}]")
        return Answer(
            text=" ".join(parts),
            quotes={pid: _quote(sentences) for pid, sentences in quotes.items()},
            model=self.model,
        )

    def _no_answer(self) -> Answer:
        return refusal(self.model)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _quote(sentences: list[_Candidate]) -> str:
    # Adjacent sentences are one span; a gap between them is marked, as a quotation would.
    text = sentences[0].text
    for previous, current in pairwise(sentences):
        text += (" " if current.position == previous.position + 1 else " … ") + current.text
    return text
