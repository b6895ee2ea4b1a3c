"""The local answer generator: an answer composed only of sentences quoted from the passages, each cited.

It never writes a word of its own beyond the citation markers and, when the passages do not
answer the question, the fixed refusal with no citations. Each sentence of the retrieved passages
gets features (`providers.local.answer_features`): closeness in meaning to the question (MiniLM
cosine, from `SentenceVectors`), the question's rarer words it holds, how well its tokens and its
heading's match the question's tokens in context, whether its heading path matches, whether it is
the kind of sentence the question asks for, how its passage ranked. A linear model weighs them into
the log-odds that the sentence answers the question; a logistic one reads the best odds, the
runner-up, the best cosine, the share of question words no passage holds, the question's
least-matched token and whether it names something (a capitalised word) no passage spells into the
probability that the passages answer at all. Both were fitted, and the refusal
threshold chosen, on development sets that include unanswerable near-topic questions
(`python -m evaluation.calibrate` writes `answerer_weights.json`), not tuned by hand.

Table rows are candidates too, quoted as their cells; a passage that is nothing but code is quoted
whole. The best sentences that do not repeat each other (1-4, about `max_chars` in all) are read
best first, so the answer opens with its key sentence; sentences adjacent in one passage stay together.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from ingestion.chunking import quotable_units
from providers.base import Answer, Passage
from providers.citations import sentences as sentences_of
from providers.errors import ProviderError
from providers.local.answer_features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    Sentence,
    TokenMatch,
    question_features,
    sentence_features,
    uncovered_share,
    unknown_name,
)
from providers.local.blas_threads import use_one_blas_thread
from providers.local.hashing_embedder import tokenize, words
from providers.local.sentence_vectors import SentenceVectors
from providers.refusal import NO_ANSWER, refusal

__all__ = ["NO_ANSWER", "WEIGHTS_FILE", "Analysis", "AnswererWeights", "ExtractiveAnswerer", "answer_texts"]

WEIGHTS_FILE = Path(__file__).with_name("answerer_weights.json")

_MIN_SENTENCE_CHARS = 12
_MAX_SENTENCE_CHARS = 500
_MAX_BLOCK_CHARS = 700  # a code block quoted whole
_INLINE_CODE = re.compile(r"`[^`]*`")
_CODE_LIKE = re.compile(r"[{}<>=]|^[^\w\"'(`$]")
_TIE = 1e-9  # retrieval scores closer than this are a tie (reciprocal-rank fusion gives exact ties)


@dataclass(frozen=True, slots=True)
class AnswererWeights:
    """The fitted models: sentence odds, question probability, the refusal threshold, and selection."""

    sentence: np.ndarray
    sentence_bias: float
    question: np.ndarray
    question_bias: float
    threshold: float  # answer when the question probability reaches it, else refuse
    keep_margin: float  # extra sentences within this many log-odds of the best one are kept
    min_sentence: float  # ... and only if their own log-odds reach this

    @classmethod
    def from_json(cls, data: dict[str, object]) -> AnswererWeights:
        sentence = dict(data["sentence"])  # type: ignore[call-overload]
        question = dict(data["question"])  # type: ignore[call-overload]
        return cls(
            sentence=np.array([float(sentence[name]) for name in SENTENCE_FEATURES]),
            sentence_bias=float(sentence["bias"]),
            question=np.array([float(question[name]) for name in QUESTION_FEATURES]),
            question_bias=float(question["bias"]),
            threshold=float(data["threshold"]),  # type: ignore[arg-type]
            keep_margin=float(data["keep_margin"]),  # type: ignore[arg-type]
            min_sentence=float(data["min_sentence"]),  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        sentence = dict(zip(SENTENCE_FEATURES, self.sentence.tolist(), strict=True))
        question = dict(zip(QUESTION_FEATURES, self.question.tolist(), strict=True))
        return {
            "sentence": {**sentence, "bias": self.sentence_bias},
            "question": {**question, "bias": self.question_bias},
            "threshold": self.threshold,
            "keep_margin": self.keep_margin,
            "min_sentence": self.min_sentence,
        }


@lru_cache(maxsize=4)
def load_weights(variant: str, path: Path = WEIGHTS_FILE) -> AnswererWeights:
    """The `semantic` (with a sentence model) or `lexical` (without) weights of the weights file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AnswererWeights.from_json(data["variants"][variant])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ProviderError.configuration(f"cannot read the {variant} answerer weights from {path}: {error}") from error


@dataclass(slots=True)
class Analysis:
    """Everything the answerer measured for one question (the calibration reads it too)."""

    sentences: list[Sentence]
    features: np.ndarray  # one row of SENTENCE_FEATURES per sentence
    scores: np.ndarray  # log-odds that each sentence answers the question
    question: np.ndarray  # QUESTION_FEATURES
    probability: float  # that the passages answer the question at all
    vectors: np.ndarray  # sentence vectors (zeros without a model)


class ExtractiveAnswerer:
    """Quote the 1-`max_sentences` sentences most likely to answer; refuse when the evidence is weak.

    `vectors` supplies sentence embeddings (MiniLM); without it the lexical-only weights are used.
    """

    def __init__(
        self,
        vectors: SentenceVectors | None = None,
        *,
        weights: AnswererWeights | None = None,
        max_sentences: int = 4,
        max_chars: int = 600,
        redundancy: float = 0.9,
    ) -> None:
        use_one_blas_thread()
        self._vectors = vectors
        self._weights = weights or load_weights("semantic" if vectors is not None else "lexical")
        self._max_sentences = max_sentences
        self._max_chars = max_chars
        self._redundancy = redundancy

    @property
    def model(self) -> str:
        return "local-extractive-v2" + ("" if self._vectors is not None else "-lexical")

    @property
    def prepares(self) -> str | None:
        """What `prepare` computes, as a name an index records (None: nothing to prepare, no sentence model)."""
        return None if self._vectors is None else f"sentence-vectors:{self._vectors.model}"

    def prepare(self, passages: Sequence[Passage]) -> None:
        """Embed and store now, at index time, what answering from these passages will read: each sentence's
        vector and token states and each heading path's. Then a question costs one forward pass, its own."""
        if self._vectors is not None:
            self._vectors.store(answer_texts(passages))

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        if not isinstance(question, str) or not question.strip():
            raise ProviderError.invalid_input("the question is empty")
        analysis = self.analyse(question, passages)
        if analysis is None:  # nothing quotable to weigh: the passages cannot answer
            return replace(refusal(self.model), confidence=0.0)
        confidence = round(analysis.probability, 4)
        if analysis.probability < self._weights.threshold:
            return replace(refusal(self.model), confidence=confidence)
        chosen = self._select(analysis)
        if not chosen:
            return replace(refusal(self.model), confidence=confidence)
        return replace(self._compose(chosen, analysis, passages), confidence=confidence)

    def analyse(self, question: str, passages: Sequence[Passage]) -> Analysis | None:
        """The measurements behind an answer; None when there is nothing to weigh."""
        sentences = _candidates(passages)
        if not sentences or not tokenize(question):
            return None  # only stop-words, or nothing quotable: nothing to match
        weights = self._weights
        if self._vectors is not None:
            # One lookup for the question, the sentences and each distinct heading path: vectors and
            # token states, filled by the same forward pass.
            titles = list(dict.fromkeys(passages[s.passage].title for s in sentences))
            texts = [question, *[s.text for s in sentences], *titles]
            # The question is asked once: embedded (its pass is usually the one embed_query made), not kept.
            matrix, states = self._vectors.vectors_and_states(texts, transient=1)
            q_vector, vectors = matrix[0], matrix[1 : 1 + len(sentences)]
            of_title = [1 + len(sentences) + titles.index(passages[s.passage].title) for s in sentences]
            context = matrix[of_title]
            best = TokenMatch(states[0]).best_per_text(states[1:])  # columns: the sentences, then the titles
            # A sentence is read with its heading path: each question token's best in either.
            coverage = TokenMatch.coverage_of(np.maximum(best[:, : len(sentences)], best[:, np.array(of_title) - 1]))
            weakest = TokenMatch.weakest_of(best)
        else:
            q_vector = np.zeros(1, dtype=np.float32)
            vectors = context = np.zeros((len(sentences), 1), dtype=np.float32)
            coverage, weakest = np.zeros(len(sentences), dtype=np.float32), 0.0
        features = sentence_features(sentences, question, q_vector, vectors, context, coverage)
        scores = features @ weights.sentence + weights.sentence_bias
        read = [_passage_words(p.title, p.content) for p in passages]
        uncovered = uncovered_share(question, [terms for terms, _ in read])
        named = unknown_name(question, frozenset().union(*(written for _, written in read)))
        summary = question_features(scores, features[:, 0], (uncovered, weakest, named))
        probability = _sigmoid(float(summary @ weights.question + weights.question_bias))
        return Analysis(sentences, features, scores, summary, probability, vectors)

    def _select(self, analysis: Analysis) -> list[int]:
        w = self._weights
        order = sorted(range(len(analysis.sentences)), key=lambda i: -analysis.scores[i])
        best = analysis.scores[order[0]]
        chosen: list[int] = []
        used = counted = 0
        for i in order:
            sentence = analysis.sentences[i]
            if counted == self._max_sentences:
                break
            if chosen and (analysis.scores[i] < best - w.keep_margin or analysis.scores[i] < w.min_sentence):
                break
            if any(self._redundant(analysis, i, j) for j in chosen):
                continue
            # A whole list item may hold two sentences: the limits count sentences and characters, not quotes.
            size = len(sentences_of(sentence.text))
            if chosen and (used + len(sentence.text) > self._max_chars or counted + size > self._max_sentences):
                continue
            chosen.append(i)
            used += len(sentence.text) + 1
            counted += size
        return chosen

    def _redundant(self, analysis: Analysis, i: int, j: int) -> bool:
        a, b = analysis.sentences[i], analysis.sentences[j]
        if a.text in b.text or b.text in a.text:
            return True
        if self._vectors is not None and float(analysis.vectors[i] @ analysis.vectors[j]) > self._redundancy:
            return True
        shared = len(a.terms & b.terms) / max(1, min(len(a.terms), len(b.terms)))
        return shared > 0.8

    def _compose(self, chosen: list[int], analysis: Analysis, passages: Sequence[Passage]) -> Answer:
        picked = _reading_order(chosen, analysis)
        numbers: dict[int, int] = {}
        quotes: dict[str, list[Sentence]] = {}
        parts: list[str] = []
        for sentence in picked:
            number = numbers.setdefault(sentence.passage, len(numbers) + 1)
            quotes.setdefault(passages[sentence.passage].id, []).append(sentence)
            # A quote of several sentences (a whole list item) carries the marker after each one.
            parts.extend(f"{piece} [{number}]" for piece in sentences_of(sentence.text))
        return Answer(
            text=" ".join(parts),
            quotes={pid: _quote(sorted(sentences, key=lambda s: s.position)) for pid, sentences in quotes.items()},
            model=self.model,
        )


def _reading_order(chosen: list[int], analysis: Analysis) -> list[Sentence]:
    """The chosen sentences, the one most likely to answer first (the reader gets the key fact at once).

    Sentences that follow each other in one passage stay together in their own order, placed by the best
    of them: a continuation ("It then ...") read before the sentence it continues loses its subject.
    """
    ordered = sorted(chosen, key=lambda i: (analysis.sentences[i].passage, analysis.sentences[i].position))
    runs: list[list[int]] = []
    for i in ordered:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and analysis.sentences[last].passage == analysis.sentences[i].passage
            and analysis.sentences[i].position == analysis.sentences[last].position + 1
        ):
            runs[-1].append(i)
        else:
            runs.append([i])
    runs.sort(key=lambda run: -max(float(analysis.scores[i]) for i in run))
    return [analysis.sentences[i] for run in runs for i in run]


def answer_texts(passages: Iterable[Passage]) -> list[str]:
    """Every text the semantic answerer embeds for these passages besides the question: their candidate
    sentences and their heading paths, each once."""
    texts: dict[str, None] = {}
    for passage in passages:
        texts.update(dict.fromkeys(s for s in _units(passage.content) if s))
        texts[passage.title] = None
    return list(texts)


def _units(content: str) -> list[str]:
    """A passage's candidate quotes in order, "" in place of a unit that is no quote (positions matter)."""
    return [text for text, _ in _read_units(content)]


# The same passages come back for question after question, and reading one (a markdown parse, then
# each unit's words) was half of an answer's CPU: each passage text is read once while it recurs.
@lru_cache(maxsize=2048)
def _read_units(content: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """`_units` of `content`, each with its stemmed words."""
    sentences = quotable_units(content)
    if not sentences:
        # Nothing but code: the block itself is the quote.
        block = content.strip()
        sentences = [block] if block and len(block) <= _MAX_BLOCK_CHARS else []
    else:
        sentences = [s if _quotable(s) else "" for s in sentences]  # keep positions: adjacency matters
    return tuple((text, frozenset(tokenize(text)) if text else frozenset()) for text in sentences)


@lru_cache(maxsize=2048)
def _passage_words(title: str, content: str) -> tuple[frozenset[str], frozenset[str]]:
    """A passage's stemmed terms and its words as written (read once while the passage recurs)."""
    text = f"{title}\n{content}"
    return frozenset(tokenize(text)), frozenset(words(text))


def _candidates(passages: Sequence[Passage]) -> list[Sentence]:
    candidates: list[Sentence] = []
    seen: set[str] = set()
    for rank, passage in enumerate(passages):
        context = frozenset(tokenize(passage.title))
        standing = sum(1 for other in passages if other.score > passage.score + _TIE)
        for position, (sentence, terms) in enumerate(_read_units(passage.content)):
            if not sentence or sentence in seen:
                continue
            seen.add(sentence)
            candidates.append(Sentence(rank, position, sentence, terms, context, standing))
    return candidates


def _quotable(sentence: str) -> bool:
    # Fragments, run-ons, code or config lines and lead-ins to a list ("The defaults are:") make poor quotes.
    if not _MIN_SENTENCE_CHARS <= len(sentence) <= _MAX_SENTENCE_CHARS or sentence.endswith(":"):
        return False
    return not _CODE_LIKE.search(_INLINE_CODE.sub("code", sentence))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def _quote(sentences: list[Sentence]) -> str:
    # Adjacent sentences are one span; a gap between them is marked, as a quotation would.
    text = sentences[0].text
    for previous, current in pairwise(sentences):
        text += (" " if current.position == previous.position + 1 else " … ") + current.text
    return text
