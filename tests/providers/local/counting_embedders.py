"""Embedders for the sentence-store tests: the hashing embedder, recording every text it is asked to embed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from providers.local.hashing_embedder import HashingEmbedder


class CountingEmbedder:
    """Wraps the hashing embedder and records the texts it was asked to embed."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.calls: list[str] = []

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.extend(texts)
        return self.inner.embed_array(texts)


class TokenCountingEmbedder(CountingEmbedder):
    """A counting embedder that also gives token states: one row per word, from the hashing embedder."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        self.calls.extend(texts)
        return self.inner.embed_array(texts), [self.inner.embed_array(text.split()) for text in texts]
