"""The front both indexes put on `Retriever.search`: the checks every search passes, and the checked request.

The local SQLite index and Azure AI Search refuse the same inputs the same way before they rank anything:
scope names that `contracts.scopes` refuses, and `top_k` below 1. `IndexSearch.search` does that once and
hands the index a `SearchRequest` whose scopes are canonical; the index ranks it in `_ranked`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.scopes import InvalidScope, normalise_scopes
from providers.base import Passage
from providers.errors import ProviderError

__all__ = ["IndexSearch", "SearchRequest", "checked_scopes"]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search as an index ranks it: its inputs checked, its scopes canonical."""

    query: str
    vector: Sequence[float]
    top_k: int
    source: str | None = None  # only passages of this document
    scopes: tuple[str, ...] = ()


def checked_scopes(scopes: Sequence[str] | None) -> tuple[str, ...]:
    """The canonical scopes, or `ProviderError.invalid_input`: an index re-checks what its callers checked."""
    try:
        return normalise_scopes(scopes)
    except InvalidScope as invalid:
        raise ProviderError.invalid_input(f"invalid scopes: {invalid}") from None


class IndexSearch:
    """`Retriever.search` for an index: checks the request, then has the index rank it (`_ranked`)."""

    def search(
        self,
        query: str,
        vector: Sequence[float],
        *,
        top_k: int,
        source: str | None = None,
        scopes: Sequence[str] = (),
    ) -> list[Passage]:
        readable = checked_scopes(scopes)
        if top_k < 1:
            raise ProviderError.invalid_input(f"top_k must be at least 1, got {top_k}")
        return self._ranked(SearchRequest(query, vector, top_k, source, readable))

    def _ranked(self, request: SearchRequest) -> list[Passage]:
        """The best passages for `request`, at most `request.top_k`, of documents its scopes may read."""
        raise NotImplementedError
