"""Embeddings through the `openai` SDK: Azure OpenAI deployments or any OpenAI-compatible server.

One class for both: its `OpenAIConnection` says where the calls go (an Azure OpenAI deployment's
`/openai/deployments/{deployment}/embeddings` with an API key or an Entra ID token, or
`{base_url}/embeddings` of Ollama, vLLM, llama.cpp). The SDK client is built on first use and
closed with the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from providers.azure.credentials import OpenAIConnection, OpenAIModel
from providers.azure.errors import translating
from providers.base import Embeddings
from providers.errors import ProviderError

if TYPE_CHECKING:
    from config.settings import Settings
    from providers.plan import RolePlan

__all__ = ["OpenAIEmbedder"]

_PROBE_TEXT = "dimension probe"


class OpenAIEmbedder(OpenAIModel):
    """Embeddings from an Azure OpenAI deployment or an OpenAI-compatible server, as `connection` says."""

    def __init__(self, connection: OpenAIConnection, model: str, dimensions: int | None = None) -> None:
        super().__init__(connection, model, operation="embeddings")
        # Sent to the API only when set: text-embedding-3 models shorten vectors to it, older
        # models reject the parameter, so unset means "whatever the model returns".
        self._requested_dimensions = dimensions
        self._dimensions = dimensions

    @classmethod
    def from_settings(cls, settings: Settings, role: RolePlan | None = None) -> OpenAIEmbedder:
        """The embedder of the settings' plan (`role`: the plan's embeddings role, when resolved already)."""
        from providers.plan import ProviderPlan

        role = role or ProviderPlan.from_settings(settings).embeddings
        return cls(OpenAIConnection.for_role(settings, role, timeout=30.0), role.target)

    @property
    def dimensions(self) -> int:
        """The vector size: as configured, else learnt from the first response (one probe call if none yet)."""
        if self._dimensions is None:
            self.embed([_PROBE_TEXT])
        assert self._dimensions is not None
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> Embeddings:
        # A bare string would be embedded character by character; anything else but text is a caller's bug.
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ProviderError.invalid_input("embed() takes a sequence of texts")
        items = list(texts)
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
            raise ProviderError.internal(f"{self._service}: inconsistent vector sizes {sorted(sizes)}")
        (size,) = sizes
        if self._dimensions is None:
            self._dimensions = size
        elif size != self._dimensions:
            raise ProviderError.configuration(
                f"{self._service}: model {self._model!r} returned {size} dimensions, expected {self._dimensions}"
            )


def _vectors_in_order(data: Sequence[Any], expected: int) -> list[list[float]]:
    # The API returns an `index` per item; order by it rather than trusting the list order.
    if len(data) != expected:
        raise ValueError(f"{len(data)} embeddings for {expected} inputs")
    ordered = sorted(data, key=lambda item: item.index)
    if [item.index for item in ordered] != list(range(expected)):
        raise ValueError("embedding indexes do not match the inputs")
    return [[float(x) for x in item.embedding] for item in ordered]
