"""The write side of Azure AI Search: create the index and upload chunks (`pipeline index` on Azure).

`AzureSearchIndexer` is an `ingestion.ingest.IndexWriter`. The index has the fields
`AzureSearchRetriever` reads (`id`, `content`, `title`, `source`, `content_vector`, and `scopes`,
the filterable collection of the document's scopes, copied onto each of its chunks) plus
`content_hash`, the hash of the file a chunk came from: before a file is re-embedded, one filtered
query asks which hash (and scopes) the index holds for its source, so unchanged files cost a query
and no embedding; new scopes for an unchanged file are merged into its chunks, nothing re-embedded.
A changed file's new chunks are uploaded first and its old chunk ids deleted after, so
a reader never finds the file missing; a file whose upload partly failed is reported failed (and,
because its old chunks are kept, is retried whole on the next run).

An index created before scopes gains the `scopes` field on the next `pipeline index` (adding a field
is an update the service allows in place); its documents then have none, so they stay visible to
every request, as they were.

Uploads go in batches; a document the service did not take (`IndexingResult.succeeded` false
with 429/503, which Azure AI Search returns per document under load) is retried alone (tenacity,
with `providers.retrying.Backoff`), a bounded number of times; other per-document failures are
reported, not retried.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestion.ingest import DocumentNotStored, DocumentVersion
from ingestion.ingest import Embedder as IngestEmbedder
from providers.azure.credentials import Credential, LazyClient, key_or_token_credential
from providers.azure.errors import translating
from providers.azure.search_retriever import (
    CONTENT_FIELD,
    ID_FIELD,
    PAGE_FIELD,
    SCOPES_FIELD,
    SOURCE_FIELD,
    TITLE_FIELD,
    VECTOR_FIELD,
    IndexConnection,
    odata_string,
    passage_of,
    sdk_options,
)
from providers.base import Passage
from providers.index_search import checked_scopes  # the one `invalid_input` for a bad scope name
from providers.retrying import Backoff

if TYPE_CHECKING:
    from azure.search.documents import SearchClient
    from azure.search.documents.indexes import SearchIndexClient
    from azure.search.documents.indexes.models import SearchIndex


__all__ = [
    "HASH_FIELD",
    "HNSW_CONFIGURATION",
    "SEMANTIC_CONFIGURATION",
    "VECTOR_PROFILE",
    "AzureSearchIndexer",
    "UploadReport",
    "index_definition",
]

HASH_FIELD = "content_hash"
VECTOR_PROFILE = "default-vector-profile"
HNSW_CONFIGURATION = "default-hnsw"
SEMANTIC_CONFIGURATION = "default"
_RETRYABLE_STATUS = frozenset({429, 503})
_SERVICE = "azure ai search"


def index_definition(
    name: str, *, dimensions: int, semantic_configuration: str = SEMANTIC_CONFIGURATION
) -> SearchIndex:
    """The index schema: searchable text, filterable source, an HNSW vector field, a semantic configuration."""
    from azure.search.documents.indexes.models import (
        HnswAlgorithmConfiguration,
        HnswParameters,
        SearchableField,
        SearchField,
        SearchIndex,
        SemanticConfiguration,
        SemanticField,
        SemanticPrioritizedFields,
        SemanticSearch,
        SimpleField,
        VectorSearch,
        VectorSearchAlgorithmMetric,
        VectorSearchProfile,
    )

    # The EDM names themselves: the SDK's `SearchFieldDataType` members are typed as a plain Enum.
    text = "Edm.String"
    fields = [
        SimpleField(name=ID_FIELD, type=text, key=True, filterable=True),
        SearchableField(name=TITLE_FIELD, type=text),
        SearchableField(name=CONTENT_FIELD, type=text),
        SimpleField(name=SOURCE_FIELD, type=text, filterable=True, facetable=True),
        SimpleField(name=HASH_FIELD, type=text, filterable=True),
        SimpleField(name=PAGE_FIELD, type="Edm.Int32", filterable=True),
        # Filterable, so `scope_filter` runs inside the index, before ranking; every chunk carries its document's.
        SimpleField(name=SCOPES_FIELD, type=f"Collection({text})", filterable=True),
        SearchField(
            name=VECTOR_FIELD,
            type="Collection(Edm.Single)",
            searchable=True,
            vector_search_dimensions=dimensions,
            vector_search_profile_name=VECTOR_PROFILE,
        ),
    ]
    vector_search = VectorSearch(
        algorithms=[
            HnswAlgorithmConfiguration(
                name=HNSW_CONFIGURATION,
                # The service's defaults; cosine because embedders' vectors are compared by angle.
                parameters=HnswParameters(
                    m=4, ef_construction=400, ef_search=500, metric=VectorSearchAlgorithmMetric.COSINE
                ),
            )
        ],
        profiles=[VectorSearchProfile(name=VECTOR_PROFILE, algorithm_configuration_name=HNSW_CONFIGURATION)],
    )
    semantic = SemanticSearch(
        default_configuration_name=semantic_configuration,
        configurations=[
            SemanticConfiguration(
                name=semantic_configuration,
                prioritized_fields=SemanticPrioritizedFields(
                    title_field=SemanticField(field_name=TITLE_FIELD),
                    content_fields=[SemanticField(field_name=CONTENT_FIELD)],
                ),
            )
        ],
    )
    return SearchIndex(name=name, fields=fields, vector_search=vector_search, semantic_search=semantic)


@dataclass(slots=True)
class UploadReport:
    """What an upload did: keys stored, keys that failed for good (with why), how many retries it took."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retried: int = 0  # documents sent again after a per-document 429/503
    requests: int = 0


class AzureSearchIndexer(IndexConnection):
    """Creates an Azure AI Search index and keeps documents in it (API key, or Entra ID when no key)."""

    def __init__(
        self,
        endpoint: str,
        credential: Credential = None,
        *,
        index_name: str,
        semantic_configuration: str | None = None,
        batch_size: int = 100,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        api_version: str | None = None,
        retry_total: int = 2,
        timeout: float = 60.0,
        client_options: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= batch_size <= 1000:  # the service takes at most 1000 actions per request
            raise ValueError("batch_size must be 1..1000")
        super().__init__(
            endpoint, credential, index_name, sdk_options(retry_total, timeout, api_version, client_options)
        )
        self._semantic_configuration = semantic_configuration or SEMANTIC_CONFIGURATION
        self._batch_size = batch_size
        self._max_attempts = max(1, max_attempts)
        self._backoff = Backoff(initial_s=backoff_s, max_s=float("inf"), jitter=0.0)
        self._sleep = sleep
        self._recreated = False
        self._held: dict[str, set[str]] = {}  # source -> chunk ids the index held when its hash was asked
        self._held_scopes: dict[str, set[tuple[str, ...]]] = {}  # source -> the scope sets its chunks carried
        self._index_client: LazyClient[SearchIndexClient] = LazyClient(self._build_index_client)

    # --- schema ----------------------------------------------------------------------------------

    def ensure_index(self, dimensions: int, *, recreate: bool = False) -> None:
        """Create or update the index for `dimensions`-wide vectors; `recreate` drops it (and its documents) first."""
        with translating(_SERVICE):
            client = self._indexes()
            if recreate:
                from azure.core.exceptions import ResourceNotFoundError

                with contextlib.suppress(ResourceNotFoundError):  # nothing to drop yet
                    client.delete_index(self._index_name)
            definition = index_definition(
                self._index_name, dimensions=dimensions, semantic_configuration=self._semantic_configuration
            )
            client.create_or_update_index(definition)

    # --- ingestion's `IndexWriter` -----------------------------------------------------------------

    def begin(self, embedder: IngestEmbedder, *, recreate: bool) -> None:
        self.ensure_index(embedder.dimensions, recreate=recreate)
        self._recreated = recreate
        self._held.clear()
        self._held_scopes.clear()

    def known_hash(self, source: str) -> str | None:
        existing = {} if self._recreated else self.source_chunks(source)
        self._held[source] = set(existing)
        self._held_scopes[source] = {scopes for _, scopes in existing.values()}
        hashes = {digest for digest, _ in existing.values()}
        return hashes.pop() if len(hashes) == 1 else None

    def known_scopes(self, source: str) -> tuple[str, ...] | None:
        if source not in self._held_scopes:
            self.known_hash(source)
        held = self._held_scopes[source]
        if len(held) > 1:  # a scope update that failed halfway: no one set can be kept for it
            raise DocumentNotStored(
                "its chunks in the index carry different scopes; index it again with the scopes it should have"
            )
        return next(iter(held)) if held else None

    def set_scopes(self, source: str, scopes: Sequence[str]) -> bool:
        wanted = checked_scopes(scopes)
        if source not in self._held:
            self.known_hash(source)
        if self._held_scopes.get(source) == {wanted}:
            return False
        ids = sorted(self._held.get(source, ()))
        if not ids:
            raise DocumentNotStored("the index holds no chunks for it")
        # `merge`, not `mergeOrUpload`: a chunk deleted meanwhile must not come back as a bare id with scopes.
        merged = self.upload([{ID_FIELD: key, SCOPES_FIELD: list(wanted)} for key in ids], merge_only=True)
        self._held_scopes.pop(source, None)  # what the index holds now is known only by asking again
        if merged.failed:
            first = next(iter(merged.failed.items()))
            raise DocumentNotStored(f"scopes of {len(merged.failed)} chunk(s) not updated, e.g. {first[0]}: {first[1]}")
        return True

    def replace_document(self, document: DocumentVersion) -> list[str]:
        source = document.source
        wanted = list(checked_scopes(document.scopes))
        ids = document.chunk_ids()
        docs = [
            {
                ID_FIELD: ids[row],
                TITLE_FIELD: chunk.title,
                CONTENT_FIELD: chunk.content,
                SOURCE_FIELD: source,
                HASH_FIELD: document.content_hash,
                PAGE_FIELD: chunk.page,
                SCOPES_FIELD: wanted,
                VECTOR_FIELD: [float(v) for v in document.vectors[row]],
            }
            for row, chunk in enumerate(document.chunks)
        ]
        uploaded = self.upload(docs)
        if uploaded.failed:
            first = next(iter(uploaded.failed.items()))
            raise DocumentNotStored(f"{len(uploaded.failed)} chunk(s) not stored, e.g. {first[0]}: {first[1]}")
        self._held_scopes.pop(source, None)
        stale = self._held.pop(source, set()) - set(ids)
        if stale:
            self.delete(sorted(stale))
        return ids

    def delete_document(self, source: str) -> bool:
        held = self.source_hashes(source)
        self.delete(sorted(held))
        return bool(held)

    def finish(self, *, changed: bool) -> None:
        self._held.clear()
        self._held_scopes.clear()

    # --- documents -------------------------------------------------------------------------------

    def source_hashes(self, source: str) -> dict[str, str]:
        """id -> content hash of the documents the index holds for `source`."""
        return {key: digest for key, (digest, _) in self.source_chunks(source).items()}

    def source_chunks(self, source: str) -> dict[str, tuple[str, tuple[str, ...]]]:
        """id -> (content hash, sorted scopes) of the documents the index holds for `source`."""
        found: dict[str, tuple[str, tuple[str, ...]]] = {}
        with translating(_SERVICE):
            results = self._documents().search(
                search_text="*",
                filter=f"{SOURCE_FIELD} eq {odata_string(source)}",
                select=[ID_FIELD, HASH_FIELD, SCOPES_FIELD],
            )
            for doc in results:
                # A chunk stored before scopes has no value: unscoped, as it has always been.
                scopes = tuple(sorted(str(s) for s in doc.get(SCOPES_FIELD) or ()))
                found[str(doc[ID_FIELD])] = (str(doc.get(HASH_FIELD) or ""), scopes)
        return found

    def source_passages(self, source: str) -> list[Passage]:
        """Every chunk the index holds for `source` (whatever its scopes): what stale answers are found against."""
        with translating(_SERVICE):
            results = self._documents().search(
                search_text="*",
                filter=f"{SOURCE_FIELD} eq {odata_string(source)}",
                select=[ID_FIELD, TITLE_FIELD, SOURCE_FIELD, CONTENT_FIELD, PAGE_FIELD],
            )
            return [passage_of(doc) for doc in results]

    def upload(self, documents: Sequence[Mapping[str, Any]], *, merge_only: bool = False) -> UploadReport:
        """mergeOrUpload (or, `merge_only`, merge) `documents` in batches; per-document 429/503 are retried
        alone, with backoff."""
        report = UploadReport()
        for start in range(0, len(documents), self._batch_size):
            batch = [dict(d) for d in documents[start : start + self._batch_size]]
            self._upload_batch(batch, report, merge_only=merge_only)
        return report

    def delete(self, ids: Iterable[str]) -> UploadReport:
        """Delete documents by key, in batches (unknown keys succeed, as the service treats them)."""
        report = UploadReport()
        keys = list(ids)
        with translating(_SERVICE):
            for start in range(0, len(keys), self._batch_size):
                batch = [{ID_FIELD: key} for key in keys[start : start + self._batch_size]]
                report.requests += 1
                for result in self._documents().delete_documents(batch):
                    if result.succeeded:
                        report.succeeded.append(result.key)
                    else:
                        report.failed[result.key] = result.error_message or f"HTTP {result.status_code}"
        return report

    def _upload_batch(self, batch: list[dict[str, Any]], report: UploadReport, *, merge_only: bool) -> None:
        from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt

        pending = batch
        refused: dict[str, str] = {}  # key -> why, of the last attempt's retryable refusals

        def attempt() -> list[dict[str, Any]]:
            nonlocal pending
            with translating(_SERVICE):
                report.requests += 1
                client = self._documents()
                send = client.merge_documents if merge_only else client.merge_or_upload_documents
                results = send(pending)
            by_key = {doc[ID_FIELD]: doc for doc in pending}
            pending = []
            refused.clear()
            for result in results:
                why = f"HTTP {result.status_code}: {result.error_message or 'rejected'}"
                if result.succeeded:
                    report.succeeded.append(result.key)
                elif result.status_code in _RETRYABLE_STATUS and result.key in by_key:
                    pending.append(by_key[result.key])
                    refused[result.key] = why
                else:
                    report.failed[result.key] = why
            return pending

        def count_retried(state: RetryCallState) -> None:
            report.retried += len(pending)

        def give_up(state: RetryCallState) -> list[dict[str, Any]]:
            return pending  # what the last attempt left: reported failed below

        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=lambda state: self._backoff.delay(state.attempt_number),
            retry=retry_if_result(bool),  # documents left to send again
            before_sleep=count_retried,
            retry_error_callback=give_up,
            sleep=self._sleep,
        )
        retrying(attempt)
        report.failed.update(refused)  # still refused after the last attempt

    # --- clients ---------------------------------------------------------------------------------

    def _indexes(self) -> SearchIndexClient:
        return self._index_client.get()

    def _documents(self) -> SearchClient:
        return self._client.get()

    def _build_index_client(self) -> SearchIndexClient:
        from azure.search.documents.indexes import SearchIndexClient

        return SearchIndexClient(self._endpoint, key_or_token_credential(self._credential), **self._options)

    def close(self) -> None:
        self._index_client.close()
        super().close()
