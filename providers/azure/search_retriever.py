"""Hybrid retrieval from an Azure AI Search index through `azure-search-documents`.

One query does keyword and vector search together (the service fuses them by reciprocal rank),
optionally re-ranked by the semantic ranker when a semantic configuration is set. The index is
expected to have the fields named below; `pipeline index` creates it that way.

Document scopes are the filterable collection `scopes`; every query carries the `$filter` of
`scope_filter`, which the service applies before ranking (to the keyword results and, as a
pre-filter, to the vector search), so `top` is filled from visible documents only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from contracts.errors import ErrorKind
from providers.azure.credentials import Credential, LazyClient, key_or_token_credential
from providers.azure.errors import translate, translating
from providers.base import Closing, Passage
from providers.errors import ProviderError
from providers.index_search import IndexSearch, SearchRequest, checked_scopes

if TYPE_CHECKING:
    from azure.search.documents import SearchClient

    from config.settings import Settings

__all__ = [
    "CONTENT_FIELD",
    "ID_FIELD",
    "SCOPES_FIELD",
    "SOURCE_FIELD",
    "TITLE_FIELD",
    "VECTOR_FIELD",
    "AzureSearchRetriever",
    "IndexConnection",
    "odata_string",
    "passage_of",
    "scope_filter",
    "sdk_options",
    "search_service",
]

ID_FIELD = "id"
CONTENT_FIELD = "content"
TITLE_FIELD = "title"
SOURCE_FIELD = "source"
VECTOR_FIELD = "content_vector"
# Added after the first release: `pipeline index` (the postdeploy hook runs it) adds them to an existing index.
PAGE_FIELD = "page"
SCOPES_FIELD = "scopes"
_SELECT = [ID_FIELD, TITLE_FIELD, SOURCE_FIELD, CONTENT_FIELD, PAGE_FIELD]
_FETCH_BATCH = 50  # keeps the filter well under the service's expression limits
_SERVICE = "azure ai search"


def odata_string(value: str) -> str:
    """`value` as an OData string literal: quoted, with single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def scope_filter(scopes: Sequence[str]) -> str:
    """The OData `$filter` clause that keeps the documents `scopes` may read (see `contracts.scopes`).

    Unscoped documents (an empty or absent collection) always; scoped ones when one of their scopes is
    among `scopes`, matched with `search.in` and `|` as its delimiter, which no scope name contains.
    Names are checked again here and the list is quoted as an OData literal regardless, so no caller
    text can end the literal or add an operator.
    """
    names = checked_scopes(scopes)
    unscoped = f"not {SCOPES_FIELD}/any()"
    if not names:
        return unscoped
    return f"({unscoped}) or {SCOPES_FIELD}/any(s: search.in(s, {odata_string('|'.join(names))}, '|'))"


def sdk_options(
    retry_total: int, timeout: float, api_version: str | None, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Keyword options of the Search SDK clients: retries, timeouts, API version, then `extra`."""
    version = {"api_version": api_version} if api_version else {}
    timeouts = {"connection_timeout": min(timeout, 10.0), "read_timeout": timeout}
    return {"retry_total": retry_total, **timeouts, **version, **dict(extra or {})}


def search_service(settings: Settings) -> dict[str, Any]:
    """The service, key and index the settings name: what the retriever and the indexer both connect to."""
    if not settings.azure_search_endpoint or not settings.azure_search_index:
        raise ProviderError.configuration(
            "AZURE_SEARCH_ENDPOINT and AZURE_SEARCH_INDEX are required for Azure AI Search"
        )
    return {
        "endpoint": settings.azure_search_endpoint,
        "credential": settings.azure_search_api_key,
        "index_name": settings.azure_search_index,
        "semantic_configuration": settings.azure_search_semantic_configuration,
    }


class IndexConnection(Closing):
    """One Azure AI Search index, its credential and the SDK's options: what the retriever and the indexer share.

    Its `SearchClient` is built on first use (API key, or Entra ID when no key is given).
    """

    def __init__(self, endpoint: str, credential: Credential, index_name: str, options: dict[str, Any]) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._index_name = index_name
        self._options = options
        self._client: LazyClient[SearchClient] = LazyClient(self._build_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(**search_service(settings))

    @property
    def index_name(self) -> str:
        return self._index_name

    def close(self) -> None:
        self._client.close()

    def _build_client(self) -> SearchClient:
        from azure.search.documents import SearchClient

        return SearchClient(
            self._endpoint, self._index_name, key_or_token_credential(self._credential), **self._options
        )


class AzureSearchRetriever(IndexConnection, IndexSearch):
    """`Retriever` over an Azure AI Search index (API key, or Entra ID when no key is given)."""

    _service = _SERVICE

    def __init__(
        self,
        endpoint: str,
        credential: Credential = None,
        *,
        index_name: str,
        semantic_configuration: str | None = None,
        api_version: str | None = None,
        retry_total: int = 1,
        timeout: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        # Small on purpose: the orchestrator owns retries (see providers.azure.errors).
        super().__init__(
            endpoint, credential, index_name, sdk_options(retry_total, timeout, api_version, client_options)
        )
        self._semantic_configuration = semantic_configuration or None

    @property
    def name(self) -> str:
        return f"azure-ai-search:{self._index_name}"

    def _ranked(self, request: SearchRequest) -> list[Passage]:
        query, vector, top_k, source = request.query, request.vector, request.top_k, request.source
        visible = scope_filter(request.scopes)
        if not query.strip() and not vector:
            raise ProviderError.invalid_input("a search needs query text or a vector")
        with translating(self._service):
            from azure.search.documents.models import VectorizedQuery

            options: dict[str, Any] = {}
            if vector:
                options["vector_queries"] = [
                    VectorizedQuery(vector=[float(v) for v in vector], k_nearest_neighbors=top_k, fields=VECTOR_FIELD)
                ]
                # Filter the vector candidates before the k nearest are taken (the service's default, said
                # explicitly): a post-filter would let hidden neighbours take places and leave `top` short.
                options["vector_filter_mode"] = "preFilter"
            if self._semantic_configuration:
                options["query_type"] = "semantic"
                options["semantic_configuration_name"] = self._semantic_configuration
            options["filter"] = (
                visible if source is None else f"{SOURCE_FIELD} eq {odata_string(source)} and ({visible})"
            )
            results = self._client.get().search(search_text=query.strip() or "*", top=top_k, select=_SELECT, **options)
            # The pager fetches lazily, so iterating is part of the call (and of its errors).
            with _needs_scopes_field():
                return [passage_of(doc) for doc in itertools.islice(results, top_k)]

    def fetch(self, ids: Sequence[str], *, scopes: Sequence[str] = ()) -> list[Passage]:
        visible = scope_filter(scopes)
        # Keys never contain a comma (Azure AI Search allows letters, digits, _ - =), so an id
        # with one cannot exist and is left out rather than breaking the search.in list.
        wanted = list(dict.fromkeys(i for i in ids if i and "," not in i))
        found: dict[str, Passage] = {}
        with translating(self._service):
            for start in range(0, len(wanted), _FETCH_BATCH):
                batch = wanted[start : start + _FETCH_BATCH]
                in_list = odata_string(",".join(batch))
                results = self._client.get().search(
                    search_text="*",
                    # The run's scopes again: an id this run could not have found is not read back.
                    filter=f"search.in({ID_FIELD}, {in_list}, ',') and ({visible})",
                    select=_SELECT,
                    top=len(batch),
                )
                with _needs_scopes_field():
                    for doc in itertools.islice(results, len(batch)):
                        passage = passage_of(doc)
                        found[passage.id] = passage
        return [found[i] for i in ids if i in found]


@contextmanager
def _needs_scopes_field() -> Iterator[None]:
    """An index created before scopes (or pages) lacks that field, and the service refuses the query (400).

    That is the index's schema, not the request: said as a configuration error with the one fix, never
    answered by searching without the filter.
    """
    try:
        yield
    except Exception as exc:
        error = exc if isinstance(exc, ProviderError) else translate(exc, service=_SERVICE)
        missing = [f for f in (SCOPES_FIELD, PAGE_FIELD) if f"property named '{f}'" in error.message]
        if error.kind is ErrorKind.REJECTED and missing:
            raise ProviderError.configuration(
                f"{_SERVICE}: the index has no '{missing[0]}' field (it was created by an earlier release); "
                "run `pipeline index PATH...` once to add it (existing documents stay visible to every request)"
            ) from exc
        raise


def passage_of(doc: Mapping[str, Any]) -> Passage:
    # The semantic ranker's score (0-4) replaces the fused score when it ran.
    reranker = doc.get("@search.reranker_score")
    score = reranker if reranker is not None else doc.get("@search.score")
    return Passage(
        id=str(doc[ID_FIELD]),
        title=str(doc.get(TITLE_FIELD) or ""),
        source=str(doc.get(SOURCE_FIELD) or ""),
        content=str(doc.get(CONTENT_FIELD) or ""),
        score=float(score or 0.0),
        page=int(page) if (page := doc.get(PAGE_FIELD)) is not None else None,
    )
