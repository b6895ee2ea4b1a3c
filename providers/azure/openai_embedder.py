"""Embeddings through the `openai` SDK: Azure OpenAI deployments or any OpenAI-compatible server.

`AzureOpenAIEmbedder` calls `/openai/deployments/{deployment}/embeddings` with an API key or an
Entra ID token; `OpenAICompatibleEmbedder` calls `{base_url}/embeddings` (Ollama, vLLM,
llama.cpp). The SDK client is built on first use and closed with the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from contracts.errors import ErrorKind
from providers.azure.credentials import Closing, Credential, OpenAIConnection
from providers.azure.errors import translating
from providers.base import Embeddings
from providers.errors import ProviderError

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["AzureOpenAIEmbedder", "OpenAICompatibleEmbedder", "OpenAIEmbedder"]

_PROBE_TEXT = "dimension probe"


class OpenAIEmbedder(Closing):
    """The embedding call and response checks shared by both endpoints.

    `OpenAIEmbedder.from_settings` picks the endpoint: Azure OpenAI when its endpoint and
    embedding deployment are set, else the OpenAI-compatible server.
    """

    _service = "openai embeddings"

    def __init__(self, connection: OpenAIConnection, model: str, dimensions: int | None) -> None:
        self._connection = connection
        self._model = model
        # Sent to the API only when set: text-embedding-3 models shorten vectors to it, older
        # models reject the parameter, so unset means "whatever the model returns".
        self._requested_dimensions = dimensions
        self._dimensions = dimensions

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        if settings.azure_openai_endpoint and settings.azure_openai_embedding_deployment:
            return AzureOpenAIEmbedder.from_settings(settings)
        return OpenAICompatibleEmbedder.from_settings(settings)

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:
        return self._connection.endpoint

    @property
    def dimensions(self) -> int:
        """The vector size: as configured, else learnt from the first response (one probe call if none yet)."""
        if self._dimensions is None:
            self.embed([_PROBE_TEXT])
        assert self._dimensions is not None
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> Embeddings:
        items = [str(t) for t in texts]
        if not items:
            return Embeddings(vectors=[], model=self._model)
        if any(not t.strip() for t in items):
            raise ProviderError.invalid_input("cannot embed empty text")
        options: dict[str, Any] = {"encoding_format": "float"}  # not every compatible server speaks base64
        if self._requested_dimensions is not None:
            options["dimensions"] = self._requested_dimensions
        with translating(self._service):
            response = self._connection.client().embeddings.create(input=items, model=self._model, **options)
            vectors = _vectors_in_order(response.data, len(items))
            usage = getattr(response, "usage", None)
            tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
            model = str(getattr(response, "model", None) or self._model)
        self._check_dimensions(vectors)
        return Embeddings(vectors=vectors, model=model, input_tokens=tokens)

    def _check_dimensions(self, vectors: list[list[float]]) -> None:
        sizes = {len(v) for v in vectors}
        if len(sizes) != 1 or 0 in sizes:
            raise ProviderError(ErrorKind.INTERNAL, f"{self._service}: inconsistent vector sizes {sorted(sizes)}")
        (size,) = sizes
        if self._dimensions is None:
            self._dimensions = size
        elif size != self._dimensions:
            raise ProviderError.configuration(
                f"{self._service}: model {self._model!r} returned {size} dimensions, expected {self._dimensions}"
            )

    def close(self) -> None:
        self._connection.close()


def _vectors_in_order(data: Sequence[Any], expected: int) -> list[list[float]]:
    # The API returns an `index` per item; order by it rather than trusting the list order.
    if len(data) != expected:
        raise ValueError(f"{len(data)} embeddings for {expected} inputs")
    ordered = sorted(data, key=lambda item: item.index)
    if [item.index for item in ordered] != list(range(expected)):
        raise ValueError("embedding indexes do not match the inputs")
    return [[float(x) for x in item.embedding] for item in ordered]


class AzureOpenAIEmbedder(OpenAIEmbedder):
    """Embeddings from an Azure OpenAI deployment (API key, or Entra ID when no key is given)."""

    _service = "azure openai embeddings"  # the error translator names the role to check for Azure services

    def __init__(
        self,
        endpoint: str,
        credential: Credential = None,
        *,
        deployment: str,
        api_version: str,
        dimensions: int | None = None,
        max_retries: int = 1,
        timeout: float = 30.0,
    ) -> None:
        connection = OpenAIConnection(
            azure_endpoint=endpoint,
            api_version=api_version,
            credential=credential,
            max_retries=max_retries,
            timeout=timeout,
        )
        super().__init__(connection, deployment, dimensions)

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureOpenAIEmbedder:  # type: ignore[override]
        if not settings.azure_openai_endpoint or not settings.azure_openai_embedding_deployment:
            raise ProviderError.configuration(
                "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_EMBEDDING_DEPLOYMENT are required for Azure OpenAI embeddings"
            )
        return cls(
            settings.azure_openai_endpoint,
            settings.azure_openai_api_key,
            deployment=settings.azure_openai_embedding_deployment,
            api_version=settings.azure_openai_api_version,
        )


class OpenAICompatibleEmbedder(OpenAIEmbedder):
    """Embeddings from any OpenAI-compatible server (`OPENAI_BASE_URL`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str,
        dimensions: int | None = None,
        max_retries: int = 1,
        timeout: float = 30.0,
    ) -> None:
        connection = OpenAIConnection(base_url=base_url, credential=api_key, max_retries=max_retries, timeout=timeout)
        super().__init__(connection, model, dimensions)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleEmbedder:  # type: ignore[override]
        if not settings.openai_base_url or not settings.openai_embedding_model:
            raise ProviderError.configuration(
                "OPENAI_BASE_URL and OPENAI_EMBEDDING_MODEL are required for OpenAI-compatible embeddings"
            )
        return cls(settings.openai_base_url, settings.openai_api_key, model=settings.openai_embedding_model)
