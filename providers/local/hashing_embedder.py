"""A dependency-light local embedder: signed feature hashing of words, word pairs and character n-grams.

It is the default embedder when no model is configured: numpy only, nothing downloaded, the same
vector for the same text in every process (features are hashed with blake2b, never Python's salted
`hash()`), and a query embeds in tens of microseconds. It captures lexical overlap, not meaning;
the MiniLM extra does semantics. The text helpers (`tokenize`, `stem`, `STOP_WORDS`) are shared
with the extractive answerer so both agree on what a "word" is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from hashlib import blake2b
from itertools import pairwise

import numpy as np

from providers.base import Embeddings
from providers.errors import ProviderError

__all__ = ["STOP_WORDS", "HashingEmbedder", "stem", "tokenize", "words"]

# Bump when anything below changes the vectors: the index records the model name and refuses a
# mismatch, so a stale index is rebuilt instead of silently compared against different vectors.
_ALGORITHM_VERSION = "v1"

_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are aren as at be because been before
    being below between both but by can cannot could did didn do does doesn doing don down during each
    else etc few for from further had has have having he her here hers him his how i if in into is isn
    it its itself just let me more most my no nor not of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very via was we were what when where which while who whom why will
    with would you your yours e g ie eg s t
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Suffix rules, longest first; each maps a suffix to its replacement. Deliberately light: the goal is
# that "retries/retried/retrying/retry" or "queue/queued/queues" meet, not linguistic accuracy.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ational", "ate"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ators", "ate"),
    ("ator", "ate"),
    ("ies", "y"),
    ("ied", "y"),
    ("sses", "ss"),
    ("ingly", ""),
    ("edly", ""),
    ("ings", ""),
    ("ing", ""),
    ("ed", ""),
    ("ly", ""),
    ("es", "e"),
    ("s", ""),
)
_VOWELS = frozenset("aeiouy")
_NO_UNDOUBLE = frozenset("lsz")


# Words that end like an inflection but are not one.
_KEEP = frozenset({"embed", "hundred", "shed", "seed", "need", "feed", "bed", "red", "always", "series", "species"})


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light, deterministic suffix-stripper for lower-cased English words."""
    if len(word) <= 3 or not word.isalpha() or word in _KEEP:
        return word
    for suffix, replacement in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        base = word[: -len(suffix)]
        # Keep words whose remainder would be too short or vowel-less ("bus", "sing", "red").
        if len(base) < 3 or not (_VOWELS & set(base)):
            continue
        if suffix in ("s", "es") and base.endswith(("s", "u", "i")):
            continue  # "status", "analysis", "bus" are not plurals
        if suffix == "ed" and base.endswith("e"):
            continue  # "speed", "exceed"
        word = base + replacement
        if suffix in ("ing", "ings", "ed", "ingly", "edly") and len(word) > 3:
            last = word[-1]
            if last == word[-2] and last not in _VOWELS and last not in _NO_UNDOUBLE:
                word = word[:-1]  # "embedding" -> "embedd" -> "embed"
        break
    # A trailing "e" is dropped so "queue"/"queued" and "use"/"using" meet at the same stem.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; underscores and punctuation split words)."""
    return _WORD.findall(text.lower())


def tokenize(text: str) -> list[str]:
    """Content-word stems of `text`, in order, stop words removed."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]


def _hash64(feature: str) -> int:
    return int.from_bytes(blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


class HashingEmbedder:
    """Signed feature hashing into `dimensions` buckets, sublinear tf, L2-normalised.

    Features per text: word stems (weight 1), adjacent stem pairs (0.6), and character 3- and
    4-grams of each raw word (together 0.5 per word). The sign bit halves the bias that bucket
    collisions would otherwise add to every dot product.
    """

    _UNIGRAM_WEIGHT = 1.0
    _BIGRAM_WEIGHT = 0.6
    _CHARGRAM_WEIGHT = 0.5

    def __init__(self, dimensions: int = 384) -> None:
        if not 16 <= dimensions <= 65_536:
            raise ProviderError.configuration(f"hashing embedder dimensions must be 16..65536, got {dimensions}")
        self._dimensions = dimensions
        # Per-instance cache: the features of a word never change, and queries reuse the corpus vocabulary.
        self._word_features = lru_cache(maxsize=65_536)(self._compute_word_features)

    @property
    def model(self) -> str:
        return f"local-hashing-{self._dimensions}-{_ALGORITHM_VERSION}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> Embeddings:
        matrix = self.embed_array(texts)
        return Embeddings(vectors=matrix.tolist(), model=self.model, input_tokens=0)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors as one float32 matrix (rows in input order); what ingestion stores."""
        if isinstance(texts, str):
            raise ProviderError.invalid_input("embed() takes a sequence of texts, not a single string")
        matrix = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ProviderError.invalid_input(f"text {row} is {type(text).__name__}, not str")
            self._fill(matrix[row], text)
        return matrix

    def _fill(self, out: np.ndarray, text: str) -> None:
        raw = [w for w in words(text) if w not in STOP_WORDS]
        if not raw:
            return
        stems = [stem(w) for w in raw]
        accumulator: dict[int, float] = {}

        # Sublinear tf: a word said ten times is more about the topic, but not ten times more.
        for word, count in Counter(raw).items():
            tf = 1.0 + math.log(count)
            for index, weight in self._word_features(word):
                accumulator[index] = accumulator.get(index, 0.0) + tf * weight
        for pair, count in Counter(pairwise(stems)).items():
            index, sign = self._bucket("b:" + pair[0] + " " + pair[1])
            tf = 1.0 + math.log(count)
            accumulator[index] = accumulator.get(index, 0.0) + sign * tf * self._BIGRAM_WEIGHT

        indices = np.fromiter(accumulator.keys(), dtype=np.int64, count=len(accumulator))
        values = np.fromiter(accumulator.values(), dtype=np.float32, count=len(accumulator))
        out[indices] = values
        norm = float(np.linalg.norm(out))
        if norm > 0.0:
            out /= norm

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = _hash64(feature)
        return h % self._dimensions, (1.0 if (h >> 63) & 1 else -1.0)

    def _compute_word_features(self, word: str) -> tuple[tuple[int, float], ...]:
        features: list[tuple[int, float]] = []
        index, sign = self._bucket("w:" + stem(word))
        features.append((index, sign * self._UNIGRAM_WEIGHT))
        marked = f"<{word}>"
        grams = [marked[i : i + n] for n in (3, 4) for i in range(len(marked) - n + 1)]
        if grams:
            # Scale so a word's n-grams together weigh about `_CHARGRAM_WEIGHT` however long it is.
            weight = self._CHARGRAM_WEIGHT / math.sqrt(len(grams))
            for gram in grams:
                index, sign = self._bucket("c:" + gram)
                features.append((index, sign * weight))
        return tuple(features)
