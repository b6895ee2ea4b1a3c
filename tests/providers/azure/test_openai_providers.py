"""Azure OpenAI and OpenAI-compatible embeddings and chat, against a fake server at the wire."""

from __future__ import annotations

import pytest

from config.settings import Settings
from contracts.errors import ErrorKind
from providers.azure.credentials import OpenAIConnection
from providers.azure.openai_chat import OpenAIChatGenerator
from providers.azure.openai_embedder import OpenAIEmbedder
from providers.base import Passage
from providers.errors import ProviderError

API_VERSION = "2024-10-21"


def _azure(url: str, credential=None, *, max_retries: int = 0, timeout: float = 5) -> OpenAIConnection:
    return OpenAIConnection(
        azure_endpoint=url, api_version=API_VERSION, credential=credential, max_retries=max_retries, timeout=timeout
    )


def _compatible(url: str, api_key=None, *, max_retries: int = 1, timeout: float = 30) -> OpenAIConnection:
    return OpenAIConnection(base_url=url, credential=api_key, max_retries=max_retries, timeout=timeout)


def _azure_embedder(url: str, credential=None, **options) -> OpenAIEmbedder:
    return OpenAIEmbedder(_azure(url, credential), "emb-small", **options)


def _azure_chat(url: str, credential=None) -> OpenAIChatGenerator:
    return OpenAIChatGenerator(_azure(url, credential), "chat-4o")


PASSAGES = [
    Passage(
        "retries#0", "Retries", "docs/retries.md", "Intro. Failed steps are retried with exponential backoff.", 0.9
    ),
    Passage("events#2", "Events", "docs/events.md", "Results are published to Event Grid as CloudEvents.", 0.7),
    Passage("other#1", "Other", "docs/other.md", "Unrelated text.", 0.1),
]


# ---- embeddings --------------------------------------------------------------------------------


def test_azure_embeddings_with_key_hit_the_deployment_path(server, shapes) -> None:
    server.reply(shapes.reply(shapes.embeddings([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], tokens=9)))
    with _azure_embedder(server.url, "secret-key") as embedder:
        result = embedder.embed(["first", "second"])
    request = server.last
    assert request.method == "POST"
    assert request.path == "/openai/deployments/emb-small/embeddings"
    assert request.query == {"api-version": API_VERSION}
    assert request.headers["api-key"] == "secret-key"
    assert "authorization" not in request.headers
    body = request.json()
    assert body["input"] == ["first", "second"]
    assert body["model"] == "emb-small"
    assert body["encoding_format"] == "float"
    assert "dimensions" not in body
    assert result.vectors == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert result.model == "text-embedding-3-small"
    assert result.input_tokens == 9
    assert embedder.dimensions == 3  # learnt from the response, no extra call
    assert len(server.requests) == 1


def test_azure_embeddings_with_identity_send_a_bearer_token(server, shapes, token_credential) -> None:
    server.reply(shapes.reply(shapes.embeddings([[1.0, 0.0]])))
    embedder = _azure_embedder(server.url, token_credential)
    embedder.embed(["hello"])
    assert server.last.headers["authorization"] == "Bearer fake-entra-token"
    assert "api-key" not in server.last.headers
    assert token_credential.scopes == [("https://cognitiveservices.azure.com/.default",)]


def test_configured_dimensions_are_requested_and_checked(server, shapes) -> None:
    server.reply(
        shapes.reply(shapes.embeddings([[1.0, 1.0], [2.0, 2.0]])), shapes.reply(shapes.embeddings([[1.0, 2.0, 3.0]]))
    )
    embedder = _azure_embedder(server.url, "k", dimensions=2)
    assert embedder.embed(["a", "b"]).vectors == [[1.0, 1.0], [2.0, 2.0]]
    assert server.last.json()["dimensions"] == 2  # requested when configured
    with pytest.raises(ProviderError) as caught:
        embedder.embed(["c"])
    assert caught.value.kind is ErrorKind.CONFIGURATION


def test_dimensions_probe_once_when_unknown(server, shapes) -> None:
    server.reply(shapes.reply(shapes.embeddings([[0.5] * 4])))
    embedder = _azure_embedder(server.url, "k")
    assert embedder.dimensions == 4
    assert embedder.dimensions == 4
    assert len(server.requests) == 1


def test_openai_compatible_embeddings(server, shapes) -> None:
    server.reply(shapes.reply(shapes.embeddings([[0.25, 0.75]], model="nomic-embed-text")))
    embedder = OpenAIEmbedder(_compatible(server.url + "/v1", None, max_retries=0), "nomic-embed-text")
    result = embedder.embed(["hi"])
    assert server.last.path == "/v1/embeddings"
    assert server.last.headers["authorization"] == "Bearer unused"
    assert server.last.json()["model"] == "nomic-embed-text"
    assert result.model == "nomic-embed-text" and result.vectors == [[0.25, 0.75]]
    embedder.close()


def test_clients_are_built_lazily(refused_url) -> None:
    # Construction touches neither the network nor the credential chain.
    embedder = _azure_embedder(refused_url)  # no key: identity would be needed, but not yet
    assert not embedder._connection._client.built
    assert embedder.model == "emb-small"


def test_empty_text_is_invalid_input(server) -> None:
    with pytest.raises(ProviderError) as caught:
        _azure_embedder(server.url, "k").embed(["  "])
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"Retry-After": "7"}, ErrorKind.TRANSIENT, 7.0),
        (429, {"retry-after-ms": "1500"}, ErrorKind.TRANSIENT, 1.5),
        (500, {}, ErrorKind.TRANSIENT, None),
        (503, {}, ErrorKind.TRANSIENT, None),
        (400, {}, ErrorKind.REJECTED, None),
        (401, {}, ErrorKind.CONFIGURATION, None),
        (403, {}, ErrorKind.CONFIGURATION, None),
        (404, {}, ErrorKind.CONFIGURATION, None),
    ],
)
def test_http_failures_are_classified(server, shapes, status, headers, kind, retry_after) -> None:
    server.reply(shapes.reply(shapes.openai_error("boom", code="SomeCode"), status, headers))
    with pytest.raises(ProviderError) as caught:
        _azure_embedder(server.url, "k").embed(["x"])
    assert caught.value.kind is kind
    assert caught.value.retry_after_s == retry_after
    assert f"HTTP {status}" in caught.value.message and "boom" in caught.value.message
    assert len(server.requests) == 1  # max_retries=0: the orchestrator owns retries


def test_an_azure_403_names_the_role_and_waits_for_it_but_another_servers_401_does_not(server, shapes) -> None:
    server.reply(shapes.reply(shapes.openai_error("denied", code="PermissionDenied"), 403, {}))
    with pytest.raises(ProviderError) as caught:
        _azure_embedder(server.url, "k").embed(["x"])
    assert "'Cognitive Services OpenAI User'" in caught.value.message and caught.value.access_denied
    server.reply(shapes.reply(shapes.openai_error("bad key", code="invalid_api_key"), 401, {}))
    with pytest.raises(ProviderError) as caught:
        OpenAIEmbedder(_compatible(server.url, "k"), "m").embed(["x"])
    assert caught.value.kind is ErrorKind.CONFIGURATION and not caught.value.access_denied


def test_connection_refused_is_transient(refused_url) -> None:
    with pytest.raises(ProviderError) as caught:
        _azure_embedder(refused_url, "k").embed(["x"])
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_timeout_is_transient(server, shapes) -> None:
    server.reply(shapes.slow(1.0))
    embedder = OpenAIEmbedder(_azure(server.url, "k", timeout=0.2), "d")
    with pytest.raises(ProviderError) as caught:
        embedder.embed(["x"])
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_bad_response_shape_is_internal(server, shapes) -> None:
    server.reply(
        shapes.reply({"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}})
    )
    with pytest.raises(ProviderError) as caught:
        _azure_embedder(server.url, "k").embed(["x"])
    assert caught.value.kind is ErrorKind.INTERNAL


def test_embedders_from_settings() -> None:
    azure = Settings(
        azure_openai_endpoint="https://res.openai.azure.com",
        azure_openai_embedding_deployment="emb",
        azure_openai_api_key="k",
        openai_base_url="http://localhost:11434/v1",
        openai_embedding_model="nomic",
    )
    chosen = OpenAIEmbedder.from_settings(azure)
    assert chosen.endpoint == "https://res.openai.azure.com" and chosen.model == "emb"
    compatible = OpenAIEmbedder.from_settings(Settings(openai_base_url="http://x/v1", openai_embedding_model="m"))
    assert compatible.endpoint == "http://x/v1" and compatible.model == "m"
    with pytest.raises(ProviderError) as caught:
        OpenAIEmbedder.from_settings(Settings())
    assert caught.value.kind is ErrorKind.CONFIGURATION


# ---- chat --------------------------------------------------------------------------------------


def test_azure_chat_sends_the_prompt_and_maps_citations(server, shapes) -> None:
    reply = "Failed steps are retried with exponential backoff [3]. Results go out as CloudEvents [2][3]. Bogus [9]."
    # The reply cites prompt numbers; PASSAGES are numbered 1..3, reversed here to test the mapping.
    passages = list(reversed(PASSAGES))
    server.reply(shapes.reply(shapes.chat(reply, prompt_tokens=321, completion_tokens=45)))
    answer = _azure_chat(server.url, "chat-key").answer("How are steps retried?", passages)

    request = server.last
    assert request.path == "/openai/deployments/chat-4o/chat/completions"
    assert request.query == {"api-version": API_VERSION}
    assert request.headers["api-key"] == "chat-key"
    body = request.json()
    assert body["model"] == "chat-4o"
    assert body["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert '<document id="2" title="Events" source="docs/events.md">' in body["messages"][1]["content"]

    # passage 3 = retries#0, passage 2 = events#2: quotes in first-cited order.
    assert list(answer.quotes) == ["retries#0", "events#2"]
    assert answer.quotes["retries#0"] == "Failed steps are retried with exponential backoff."
    assert answer.quotes["events#2"] == "Results are published to Event Grid as CloudEvents."
    # "Bogus [9]." cites a passage that was not given: its marker goes, and the uncited sentence with it.
    assert answer.text == "Failed steps are retried with exponential backoff [1]. Results go out as CloudEvents [2][1]."
    assert answer.model == "gpt-4o-2024-08-06"
    assert (answer.input_tokens, answer.output_tokens) == (321, 45)


def test_chat_with_identity_and_compatible_server(server, shapes, token_credential) -> None:
    server.reply(
        shapes.reply(shapes.chat("No documents say [1].")), shapes.reply(shapes.chat("ok [1]", model="llama3.1:8b"))
    )
    _azure_chat(server.url, token_credential).answer("q", PASSAGES[:1])
    assert server.last.headers["authorization"] == "Bearer fake-entra-token"

    generator = OpenAIChatGenerator(_compatible(server.url + "/v1", "sk-local", max_retries=0), "llama3.1")
    answer = generator.answer("q", PASSAGES[:1])
    assert server.last.path == "/v1/chat/completions"
    assert server.last.headers["authorization"] == "Bearer sk-local"
    assert answer.model == "llama3.1:8b" and list(answer.quotes) == ["retries#0"]


def test_chat_failures(server, shapes) -> None:
    server.reply(
        shapes.reply(shapes.openai_error("Rate limit", code="429"), 429, {"Retry-After": "3"}),
        shapes.reply(shapes.openai_error("content policy", code="content_filter"), 400),
        shapes.reply(shapes.chat("", finish_reason="content_filter")),
        shapes.reply({**shapes.chat("x"), "choices": []}),
    )
    generator = _azure_chat(server.url, "k")
    kinds = []
    for _ in range(4):
        with pytest.raises(ProviderError) as caught:
            generator.answer("q", PASSAGES)
        kinds.append((caught.value.kind, caught.value.retry_after_s))
    assert kinds == [
        (ErrorKind.TRANSIENT, 3.0),
        (ErrorKind.REJECTED, None),
        (ErrorKind.REJECTED, None),
        (ErrorKind.INTERNAL, None),
    ]


def test_chat_from_settings() -> None:
    s = Settings(
        azure_openai_endpoint="https://res.openai.azure.com",
        azure_openai_chat_deployment="gpt",
        pipeline_snippet_chars=80,
    )
    generator = OpenAIChatGenerator.from_settings(s)
    assert generator.endpoint == "https://res.openai.azure.com" and generator.model == "gpt"
    compatible = OpenAIChatGenerator.from_settings(Settings(openai_base_url="http://x/v1", openai_chat_model="m"))
    assert compatible.endpoint == "http://x/v1"
    with pytest.raises(ProviderError):
        OpenAIChatGenerator.from_settings(Settings())


def test_a_credential_that_cannot_get_a_token_is_configuration(server) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class NoIdentity:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("ManagedIdentityCredential: no managed identity endpoint found.\nmore")

    with pytest.raises(ProviderError) as caught:
        _azure_embedder(server.url, NoIdentity()).embed(["x"])
    assert caught.value.kind is ErrorKind.CONFIGURATION
    assert "\n" not in caught.value.message
    assert server.requests == []


def test_importing_the_package_loads_no_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, providers.azure, providers.prompt; "
        "print([m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2', 'azure')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
