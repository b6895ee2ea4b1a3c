"""Azure AI Search retrieval through the real SearchClient, against a fake search service."""

from __future__ import annotations

import pytest

from config.settings import Settings
from contracts.errors import ErrorKind
from providers.azure.search_retriever import VECTOR_FIELD, AzureSearchRetriever, odata_string
from providers.errors import ProviderError
from tests.scope_values import INERT_SCOPES, REFUSED_SCOPES

SEARCH_PATH = "/indexes('docs')/docs/search.post.search"


def _retriever(url: str, credential="search-key", **options) -> AzureSearchRetriever:
    return AzureSearchRetriever(url, credential, index_name="docs", retry_total=0, timeout=5, **options)


def _doc(doc_id: str, score: float, reranker: float | None = None, page: int | None = None) -> dict:
    doc = {
        "@search.score": score,
        "id": doc_id,
        "title": f"T {doc_id}",
        "source": f"docs/{doc_id}.md",
        "content": f"Content of {doc_id}.",
    }
    if reranker is not None:
        doc["@search.rerankerScore"] = reranker
    if page is not None:
        doc["page"] = page
    return doc


def test_hybrid_query_with_key(server, shapes) -> None:
    server.reply(shapes.reply(shapes.search([_doc("a", 0.033, page=7), _doc("b", 0.016)])))
    with _retriever(server.url) as retriever:
        passages = retriever.search("how do retries work", [0.1, -0.2, 0.3], top_k=2)

    request = server.last
    assert request.method == "POST"
    assert request.path == SEARCH_PATH
    assert request.query["api-version"]
    assert request.headers["api-key"] == "search-key"
    body = request.json()
    assert body["search"] == "how do retries work"
    assert body["top"] == 2
    assert body["select"] == "id,title,source,content,page"
    assert body["vectorQueries"] == [{"kind": "vector", "vector": [0.1, -0.2, 0.3], "k": 2, "fields": VECTOR_FIELD}]
    assert "queryType" not in body
    assert body["filter"] == "not scopes/any()"  # no scopes: unscoped documents only
    assert body["vectorFilterMode"] == "preFilter"
    assert [(p.id, p.title, p.source, p.content, p.score, p.page) for p in passages] == [
        ("a", "T a", "docs/a.md", "Content of a.", 0.033, 7),
        ("b", "T b", "docs/b.md", "Content of b.", 0.016, None),  # a source without pages
    ]
    assert retriever.name == "azure-ai-search:docs"


def test_semantic_ranker_and_source_filter(server, shapes) -> None:
    server.reply(shapes.reply(shapes.search([_doc("b", 0.02, reranker=3.1), _doc("a", 0.03, reranker=2.4)])))
    retriever = _retriever(server.url, semantic_configuration="default-semantic")
    passages = retriever.search("q", [1.0], top_k=5, source="docs/o'brien.md")
    body = server.last.json()
    assert body["queryType"] == "semantic"
    assert body["semanticConfiguration"] == "default-semantic"
    assert body["filter"] == "source eq 'docs/o''brien.md' and (not scopes/any())"
    assert [(p.id, p.score) for p in passages] == [("b", 3.1), ("a", 2.4)]  # reranker score wins


def test_fetch_by_ids_is_one_filtered_query(server, shapes) -> None:
    server.reply(shapes.reply(shapes.search([_doc("c", 1.0), _doc("a", 1.0)])))
    passages = _retriever(server.url).fetch(["a", "missing", "c", "a,b"])
    body = server.last.json()
    assert body["filter"] == "search.in(id, 'a,missing,c', ',') and (not scopes/any())"
    assert body["top"] == 3
    assert [p.id for p in passages] == ["a", "c"]
    assert _retriever(server.url).fetch([]) == [] and len(server.requests) == 1


def test_scopes_are_one_odata_filter_applied_before_ranking(server, shapes) -> None:
    server.default = lambda _: shapes.reply(shapes.search([]))
    retriever = _retriever(server.url)
    retriever.search("q", [0.1], top_k=3, scopes=["team:b", "team:a", "team:b"])
    body = server.last.json()
    assert body["filter"] == "(not scopes/any()) or scopes/any(s: search.in(s, 'team:a|team:b', '|'))"
    assert body["vectorFilterMode"] == "preFilter"

    retriever.search("q", [0.1], top_k=3, source="a'b.md", scopes=["hr"])
    assert server.last.json()["filter"] == (
        "source eq 'a''b.md' and ((not scopes/any()) or scopes/any(s: search.in(s, 'hr', '|')))"
    )
    retriever.fetch(["a", "b"], scopes=["hr"])  # the claim check reads under the same scopes
    assert server.last.json()["filter"] == (
        "search.in(id, 'a,b', ',') and ((not scopes/any()) or scopes/any(s: search.in(s, 'hr', '|')))"
    )
    # Names that read like OData stay one quoted literal, split only at `|`.
    retriever.search("q", [0.1], top_k=3, scopes=INERT_SCOPES)
    joined = "|".join(sorted(set(INERT_SCOPES)))
    assert server.last.json()["filter"] == f"(not scopes/any()) or scopes/any(s: search.in(s, '{joined}', '|'))"


def test_a_hostile_scope_is_refused_before_any_request(server) -> None:
    # That it is refused, as `invalid_input`, is the Retriever contract (tests/contracts); here: no request.
    retriever = _retriever(server.url)
    for bad in REFUSED_SCOPES:
        with pytest.raises(ProviderError):
            retriever.search("q", [0.1], top_k=3, scopes=["hr", bad])
        with pytest.raises(ProviderError):
            retriever.fetch(["a"], scopes=[bad])
    assert server.requests == []


def test_an_index_without_the_scopes_field_is_a_configuration_error_saying_how_to_add_it(server, shapes) -> None:
    message = "Invalid expression: Could not find a property named 'scopes' on type 'search.document'."
    server.reply(shapes.reply(shapes.azure_error("", message + "\r\nParameter name: $filter"), 400))
    with pytest.raises(ProviderError) as caught:
        _retriever(server.url).search("q", [0.1], top_k=3)
    assert caught.value.kind is ErrorKind.CONFIGURATION
    assert "pipeline index" in caught.value.message and len(server.requests) == 1  # no unfiltered second try


def test_identity_sends_a_bearer_token_for_the_search_scope(tls_server, shapes, token_credential) -> None:
    tls_server.reply(shapes.reply(shapes.search([_doc("a", 1.0)])))
    passages = _retriever(tls_server.url, token_credential).search("q", [0.5], top_k=1)
    assert [p.id for p in passages] == ["a"]
    assert tls_server.last.headers["authorization"] == "Bearer fake-entra-token"
    assert "api-key" not in tls_server.last.headers
    assert token_credential.scopes == [("https://search.azure.com/.default",)]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"Retry-After": "4"}, ErrorKind.TRANSIENT, 4.0),
        (503, {"retry-after-ms": "2500"}, ErrorKind.TRANSIENT, 2.5),
        (500, {}, ErrorKind.TRANSIENT, None),
        (400, {}, ErrorKind.REJECTED, None),
        (401, {}, ErrorKind.CONFIGURATION, None),
        (403, {}, ErrorKind.CONFIGURATION, None),
        (404, {}, ErrorKind.CONFIGURATION, None),  # the index does not exist
    ],
)
def test_http_failures_are_classified(server, shapes, status, headers, kind, retry_after) -> None:
    server.reply(shapes.reply(shapes.azure_error("SomeCode", "Invalid expression: boom"), status, headers))
    with pytest.raises(ProviderError) as caught:
        _retriever(server.url).search("q", [0.1], top_k=3)
    assert caught.value.kind is kind
    assert caught.value.retry_after_s == retry_after
    assert f"HTTP {status}" in caught.value.message
    assert len(server.requests) == 1  # retry_total=0: the orchestrator owns retries


@pytest.mark.parametrize(
    ("status", "says", "access_denied"),
    [
        (403, "'Search Index Data Reader'", True),
        (401, "'Search Index Data Reader'", True),
        (404, "run `pipeline index", False),
    ],
)
def test_access_denied_names_the_role_and_a_missing_index_says_how_to_create_it(
    server, shapes, status, says, access_denied
) -> None:
    server.reply(shapes.reply(shapes.azure_error("Forbidden", "x" * 900), status, {}))
    with pytest.raises(ProviderError) as caught:
        _retriever(server.url).search("q", [0.1], top_k=3)
    assert says in caught.value.message and len(caught.value.message) <= 500  # a long detail cannot cut it
    assert caught.value.access_denied is access_denied
    assert caught.value.to_step_error().access_denied is access_denied


def test_connection_refused_is_transient(refused_url) -> None:
    with pytest.raises(ProviderError) as caught:
        _retriever(refused_url).search("q", [0.1], top_k=3)
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_unreadable_response_is_internal(server, shapes) -> None:
    server.reply(shapes.Reply(200, b"<html>gateway</html>", {"Content-Type": "application/json"}))
    with pytest.raises(ProviderError) as caught:
        _retriever(server.url).search("q", [0.1], top_k=3)
    assert caught.value.kind is ErrorKind.INTERNAL


def test_odata_string_and_from_settings() -> None:
    assert odata_string("it's") == "'it''s'"
    retriever = AzureSearchRetriever.from_settings(
        Settings(azure_search_endpoint="https://x.search.windows.net", azure_search_index="docs")
    )
    assert retriever.name == "azure-ai-search:docs" and not retriever._client.built
    with pytest.raises(ProviderError) as caught:
        AzureSearchRetriever.from_settings(Settings())
    assert caught.value.kind is ErrorKind.CONFIGURATION
