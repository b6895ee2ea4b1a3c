"""What the local answerer measures about a question and each candidate sentence.

Features, not decisions: `providers.local.extractive` weighs them with weights fitted on the
development sets (`python -m evaluation.calibrate`), so each number here is a signal a person can
read: how close in meaning (MiniLM cosine), how many of the question's rarer words a sentence
holds, how well the question's tokens find their counterparts among its tokens, whether it is the
kind of sentence the question asks for (a reason for "why", a number for "how many"), and how well
retrieval ranked its passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from providers.local.hashing_embedder import STOP_WORDS, stem, words

__all__ = [
    "QUESTION_FEATURES",
    "SENTENCE_FEATURES",
    "Intent",
    "Sentence",
    "TokenMatch",
    "intent_of",
    "question_features",
    "sentence_features",
    "uncovered_share",
    "unknown_name",
]

SENTENCE_FEATURES = (
    "semantic",  # cosine(question, sentence)
    "semantic_context",  # cosine(question, the sentence's heading path)
    "lexical",  # idf-weighted share of the question's words in the sentence
    "lexical_context",  # ... in the sentence or its heading path
    "token_match",  # how well the question's tokens are matched by the sentence's and heading's (TokenMatch)
    "intent",  # the sentence is the kind the question asks for
    "rank",  # 1 / (1 + its passage's standing): fused rankings tie often, and a tie is no evidence
    "lead",  # first sentence of its passage
    "short",  # under 8 words: rarely a whole answer
)
QUESTION_FEATURES = (
    "best",  # best sentence score (log-odds)
    "second",  # second best sentence score (log-odds): one lucky sentence is weaker evidence
    "best_semantic",  # best question-sentence cosine
    "uncovered",  # idf share of the question's words found in no passage
    "weakest_token",  # the question token least matched by any passage token (TokenMatch.weakest_of)
    "unknown_name",  # the question names a thing (a capitalised word) that no passage mentions
)
PASSAGE_MEASURES = QUESTION_FEATURES[3:]  # the question features read from the passages, not from sentence scores


@dataclass(frozen=True, slots=True)
class Intent:
    """What kind of sentence answers the question."""

    kind: str  # why | quantity | when | where | how | yes_no | what
    cue: re.Pattern[str] | None


_CUES: dict[str, str] = {
    "why": r"\b(because|since|so that|so the|so a|so it|therefore|otherwise|to avoid|in order to|which means|"
    r"reason|that way|or else|would|prevents?|keeps?|ensures?|lets?)\b",
    "quantity": r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twice|once|hundred|thousand|"
    r"minutes?|hours?|days?|seconds?|percent)\b",
    "when": r"\d|\b(when|after|before|until|once|every|each time|as soon as|while|during|then|at (the )?start|"
    r"daily|weekly|monthly|hours?|minutes?|days?)\b",
    "where": r"[/\\]|\b(in|under|into|inside|folder|director(y|ies)|file|path|stored|kept|written|goes? to|"
    r"located|page|tab|menu|section|screen)\b",
    "how": r"`|\b(use|run|set|call|add|create|open|select|choose|enter|press|tap|click|go to|with|by|"
    r"command|flag|option|setting)\b",
}
_COMPILED = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in _CUES.items()}
_QUANTITY_ASK = re.compile(
    r"\bhow (many|much|long|often|big|large|far|old|fast|soon)\b|\bwhat (is|are) the (maximum|minimum|limit|"
    r"default|size|number|price|cost|fee)\b|\b(which|what) (port|status|code|version|number|percentage)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(r"^\s*(is|are|can|could|does|do|did|will|would|should|must|may|has|have)\b", re.IGNORECASE)


def intent_of(question: str) -> Intent:
    """The question's type, from its wording."""
    text = question.strip().lower()
    if re.search(r"\bwhy\b", text) or text.startswith("what is the point") or "what for" in text:
        kind = "why"
    elif _QUANTITY_ASK.search(text):
        kind = "quantity"
    elif re.search(r"^\s*when\b|\bwhen (does|do|is|are|will|should|can)\b|\bat what (time|point)\b", text):
        kind = "when"
    elif re.search(r"^\s*where\b|\bwhere (does|do|is|are|can|should)\b|\bwhich (folder|file|directory)\b", text):
        kind = "where"
    elif re.search(r"\bhow (do|can|should|would|to|does|is|are)\b|^\s*how\b", text):
        kind = "how"
    elif _YES_NO.search(text):
        kind = "yes_no"
    else:
        kind = "what"
    return Intent(kind, _COMPILED.get(kind))


@dataclass(slots=True)
class Sentence:
    """A candidate quote and where it stands."""

    passage: int  # index of its passage in retrieval order
    position: int  # order within the passage
    text: str
    terms: frozenset[str]
    context: frozenset[str]  # terms of its passage's heading path
    standing: int = 0  # passages scored strictly above its passage: tied passages stand equal


# Words that carry a question's grammar, not its topic ("how are retries done?"): a sentence need not
# hold them. The general stop-words are already gone (hashing_embedder.STOP_WORDS).
_QUESTION_FILLER = frozenset(
    {
        *("done", "happen", "happens", "happened", "handle", "handled", "work", "works", "working"),
        *("go", "goes", "get", "gets", "thing", "things", "way", "ways", "need", "needs", "want", "wants"),
        *("tell", "know", "possible"),
    }
)


def question_terms(question: str) -> set[str]:
    """The question's topic words (stemmed), without the filler every question has."""
    return {stem(word) for word in question_words(question)}


def question_words(question: str) -> list[str]:
    """The question's topic words as written (lower-cased), without stop-words and filler, each once."""
    return list(dict.fromkeys(w for w in words(question) if w not in STOP_WORDS and w not in _QUESTION_FILLER))


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """How well the question's content tokens are matched by the tokens of each sentence, in context.

    MiniLM's token states before pooling: each token is read in its sentence, so "bank" in "river
    bank" and in "bank account" differ, and a paraphrase's words still find their counterparts.
    """

    question: np.ndarray  # (question tokens, dims), unit rows

    def best_per_text(self, states: Sequence[np.ndarray]) -> np.ndarray:
        """(question tokens, texts): each question token's best match among each text's tokens, -inf where a
        text has none. One product over all the texts' tokens: an answer weighs some thirty texts, and a
        product per text cost more in numpy's call overhead than in arithmetic."""
        best = np.full((len(self.question), len(states)), -np.inf, dtype=np.float32)
        offered = [i for i, matrix in enumerate(states) if len(matrix)]
        if not len(self.question) or not offered:
            return best
        starts = np.cumsum([0] + [len(states[i]) for i in offered[:-1]])
        products = self.question @ np.vstack([states[i] for i in offered]).T
        best[:, offered] = np.maximum.reduceat(products, starts, axis=1)
        return best

    @staticmethod
    def coverage_of(best: np.ndarray) -> np.ndarray:
        """Per column of `best_per_text`: the mean over the question's tokens of their best match (0 for a
        text without tokens, and for every text when the question has none)."""
        if not len(best):
            return np.zeros(best.shape[1], dtype=np.float32)
        return np.where(np.isfinite(best[0]), best.mean(axis=0), 0.0)

    @staticmethod
    def weakest_of(best: np.ndarray) -> float:
        """The match of the least-matched question token in any of the texts (0 when nothing to match)."""
        top = best.max(axis=1, initial=-np.inf)
        return float(top.min()) if len(top) and np.isfinite(top[0]) else 0.0


def idf_weights(question_terms: set[str], documents: Sequence[frozenset[str]]) -> dict[str, float]:
    """Smoothed idf of each question term over `documents`; a term none has gets the highest weight."""
    n = len(documents)
    df = dict.fromkeys(question_terms, 0)
    for terms in documents:
        for term in terms & question_terms:
            df[term] += 1
    return {term: math.log(1.0 + (n + 1) / (count + 0.5)) for term, count in df.items()}


def sentence_features(
    sentences: Sequence[Sentence],
    question: str,
    question_vector: np.ndarray,
    sentence_vectors: np.ndarray,
    context_vectors: np.ndarray,
    token_match: np.ndarray,
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per sentence. Vectors are unit length (zeros when there is no model)."""
    query = question_terms(question)
    idf = idf_weights(query, [s.terms for s in sentences])
    total = sum(idf.values()) or 1.0
    intent = intent_of(question)
    rows = np.zeros((len(sentences), len(SENTENCE_FEATURES)), dtype=np.float64)
    semantic = sentence_vectors @ question_vector if len(sentences) else np.zeros(0)
    semantic_context = context_vectors @ question_vector if len(sentences) else np.zeros(0)
    for row, sentence in enumerate(sentences):
        matched = sentence.terms & query
        with_context = (sentence.terms | sentence.context) & query
        rows[row] = (
            semantic[row],
            semantic_context[row],
            sum(idf[t] for t in matched) / total,
            sum(idf[t] for t in with_context) / total,
            token_match[row],
            1.0 if intent.cue is not None and intent.cue.search(sentence.text) else 0.0,
            1.0 / (1.0 + sentence.standing),
            1.0 if sentence.position == 0 else 0.0,
            1.0 if len(words(sentence.text)) < 8 else 0.0,
        )
    return rows


def uncovered_share(question: str, passage_terms: Sequence[frozenset[str]]) -> float:
    """The idf-weighted share of the question's words that no passage (text or heading) holds."""
    query = question_terms(question)
    if not query:
        return 1.0
    seen = frozenset().union(*passage_terms) if passage_terms else frozenset()
    idf = idf_weights(query, list(passage_terms))
    total = sum(idf.values()) or 1.0
    return sum(weight for term, weight in idf.items() if term not in seen) / total


# A capitalised word that does not start a sentence: a product, a service, a place, a unit ("Kafka",
# "YubiKey", "GB"). Paraphrase changes ordinary words; it rarely invents a name the documents lack.
_NAME = re.compile(r"(?<![\w.])[A-Z][\w-]*[A-Za-z0-9]")


def unknown_name(question: str, passage_words: frozenset[str]) -> float:
    """1.0 when the question names something that the passages never spell (`words`, lower-cased).

    A name is known when each of its words is a passage word or begins one ("Mac": "macos"), so a
    setting such as `PIPELINE_DATA_DIR` is known where its parts are; a plural counts as its
    singular ("URLs": "url"). A question written in Title Case or capitals names nothing this way.
    """
    later = [w for w in re.findall(r"[^\W\d_][\w-]*", question)[1:] if w != "I"]
    if later and sum(w[0].isupper() for w in later) >= 0.7 * len(later):
        return 0.0  # Title Case or ALL CAPS: capitals mark the style, not names
    for match in _NAME.finditer(question):
        before = question[: match.start()].rstrip()
        if not before or before.endswith((".", "?", "!", ":")) or match.group() == "I":
            continue
        for part in words(match.group()):
            forms = (part, part[:-1]) if len(part) > 3 and part.endswith("s") else (part,)
            if not any(word.startswith(form) for form in forms for word in passage_words):
                return 1.0
    return 0.0


def question_features(
    scores: np.ndarray, semantic: np.ndarray, passage_measures: Sequence[float] | np.ndarray
) -> np.ndarray:
    """One row of QUESTION_FEATURES from the sentence scores (log-odds), cosines and PASSAGE_MEASURES."""
    ordered = np.sort(scores)[::-1] if len(scores) else np.array([-10.0])
    second = ordered[1] if len(ordered) > 1 else ordered[0] - 2.0
    best_semantic = float(semantic.max()) if len(semantic) else 0.0
    return np.array([ordered[0], second, best_semantic, *passage_measures], dtype=np.float64)
