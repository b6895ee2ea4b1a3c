"""Hybrid retrieval from an Azure AI Search index through `azure-search-documents`.

One query does keyword and vector search together (the service fuses them by reciprocal rank),
optionally re-ranked by the semantic ranker when a semantic configuration is set. The index is
expected to have the fields named below; `pipeline index` creates it that way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from providers.azure.credentials import Closing, Credential, LazyClient, key_or_token_credential
from providers.azure.errors import translating
from providers.base import Passage
from providers.errors import ProviderError

if TYPE_CHECKING:
    from azure.search.documents import SearchClient

    from config.settings import Settings

__all__ = [
    "CONTENT_FIELD",
    "ID_FIELD",
    "SOURCE_FIELD",
    "TITLE_FIELD",
    "VECTOR_FIELD",
    "AzureSearchRetriever",
    "odata_string",
    "sdk_options",
    "search_service",
]

ID_FIELD = "id"
CONTENT_FIELD = "content"
TITLE_FIELD = "title"
SOURCE_FIELD = "source"
VECTOR_FIELD = "content_vector"
# Added after the first release: `pipeline index` (the postdeploy hook runs it) adds it to an existing index.
PAGE_FIELD = "page"
_SELECT = [ID_FIELD, TITLE_FIELD, SOURCE_FIELD, CONTENT_FIELD, PAGE_FIELD]
_FETCH_BATCH = 50  # keeps the filter well under the service's expression limits


def odata_string(value: str) -> str:
    """`value` as an OData string literal: quoted, with single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


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


class AzureSearchRetriever(Closing):
    """`Retriever` over an Azure AI Search index (API key, or Entra ID when no key is given)."""

    _service = "azure ai search"

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
        self._endpoint = endpoint
        self._credential = credential
        self._index_name = index_name
        self._semantic_configuration = semantic_configuration or None
        # Small on purpose: the orchestrator owns retries (see providers.azure.errors).
        self._options = sdk_options(retry_total, timeout, api_version, client_options)
        self._client: LazyClient[SearchClient] = LazyClient(self._build_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureSearchRetriever:
        return cls(**search_service(settings))

    @property
    def name(self) -> str:
        return f"azure-ai-search:{self._index_name}"

    def search(self, query: str, vector: Sequence[float], *, top_k: int, source: str | None = None) -> list[Passage]:
        if top_k < 1:
            raise ProviderError.invalid_input("top_k must be at least 1")
        if not query.strip() and not vector:
            raise ProviderError.invalid_input("a search needs query text or a vector")
        with translating(self._service):
            from azure.search.documents.models import VectorizedQuery

            options: dict[str, Any] = {}
            if vector:
                options["vector_queries"] = [
                    VectorizedQuery(vector=[float(v) for v in vector], k_nearest_neighbors=top_k, fields=VECTOR_FIELD)
                ]
            if self._semantic_configuration:
                options["query_type"] = "semantic"
                options["semantic_configuration_name"] = self._semantic_configuration
            if source is not None:
                options["filter"] = f"{SOURCE_FIELD} eq {odata_string(source)}"
            results = self._client.get().search(search_text=query.strip() or "*", top=top_k, select=_SELECT, **options)
            # The pager fetches lazily, so iterating is part of the call (and of its errors).
            return [_passage(doc) for doc in itertools.islice(results, top_k)]

    def fetch(self, ids: Sequence[str]) -> list[Passage]:
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
                    filter=f"search.in({ID_FIELD}, {in_list}, ',')",
                    select=_SELECT,
                    top=len(batch),
                )
                for doc in itertools.islice(results, len(batch)):
                    passage = _passage(doc)
                    found[passage.id] = passage
        return [found[i] for i in ids if i in found]

    def close(self) -> None:
        self._client.close()

    def _build_client(self) -> SearchClient:
        from azure.search.documents import SearchClient

        return SearchClient(
            self._endpoint, self._index_name, key_or_token_credential(self._credential), **self._options
        )


def _passage(doc: Mapping[str, Any]) -> Passage:
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
