"""How the Azure providers authenticate: an API key when one is configured, else Entra ID.

A key given in settings wins; without one, `DefaultAzureCredential` (managed identity on Azure,
the developer's `az login` locally) is used. The default credential is built on first use,
never at import, and shared by every provider of the process so token caches are reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

from providers.base import Closing
from providers.errors import ProviderError

if TYPE_CHECKING:
    from azure.core.credentials import AzureKeyCredential, TokenCredential

    from config.settings import Settings
    from providers.plan import RolePlan

__all__ = [
    "COGNITIVE_SERVICES_SCOPE",
    "Credential",
    "LazyClient",
    "OpenAIConnection",
    "OpenAIModel",
    "close_default_credential",
    "default_credential",
    "key_or_token_credential",
    "openai_auth",
]

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"

# What a provider constructor accepts: a key as text, an AzureKeyCredential, any TokenCredential,
# or None for "use DefaultAzureCredential".
Credential = Union[str, "AzureKeyCredential", "TokenCredential", None]

_lock = threading.Lock()
_default: TokenCredential | None = None
C = TypeVar("C")


def default_credential() -> TokenCredential:
    """The process's `DefaultAzureCredential`, built on first use."""
    global _default  # one credential per process: its token cache is what makes it cheap
    with _lock:
        if _default is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ProviderError.configuration(
                    "azure-identity is not installed; install it or set an API key"
                ) from exc
            _default = DefaultAzureCredential()
        return _default


class LazyClient(Generic[C]):
    """An SDK client built on first use, never at import or construction, and closed with its owner.

    Thread-safe: activities share one provider per process across the worker pool.
    """

    def __init__(self, build: Callable[[], C]) -> None:
        self._build = build
        self._client: C | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._client is not None

    def get(self) -> C:
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[attr-defined]


def close_default_credential() -> None:
    """Close the shared credential (at shutdown); a later use builds a new one."""
    global _default
    with _lock:
        credential, _default = _default, None
    close = getattr(credential, "close", None)
    if callable(close):
        close()


def key_or_token_credential(credential: Credential) -> AzureKeyCredential | TokenCredential:
    """The azure-core credential for a data-plane client (Search, Event Grid)."""
    from azure.core.credentials import AzureKeyCredential

    if credential is None:
        return default_credential()
    if isinstance(credential, str):
        if not credential.strip():
            return default_credential()
        return AzureKeyCredential(credential)
    return credential


def openai_auth(credential: Credential, *, scope: str = COGNITIVE_SERVICES_SCOPE) -> dict[str, Any]:
    """Keyword arguments for `AzureOpenAI(...)`: `api_key`, or an Entra ID bearer token provider."""
    from azure.core.credentials import AzureKeyCredential

    if isinstance(credential, str) and credential.strip():
        return {"api_key": credential}
    if isinstance(credential, AzureKeyCredential):
        return {"api_key": credential.key}
    token_credential = credential if credential is not None and not isinstance(credential, str) else None
    return {"azure_ad_token_provider": _token_provider(token_credential or default_credential(), scope)}


def _token_provider(credential: TokenCredential, scope: str) -> Callable[[], str]:
    from azure.identity import get_bearer_token_provider

    return get_bearer_token_provider(credential, scope)


@dataclass(eq=False, kw_only=True)
class OpenAIConnection:
    """Where and how to reach an OpenAI-style API, and the client built from it on first use.

    Either Azure OpenAI (`azure_endpoint` + `api_version`, key or Entra ID) or any
    OpenAI-compatible server (`base_url`, optional key). The client is built lazily, so
    constructing a provider never touches the network or the credential chain, and it is closable.
    """

    azure_endpoint: str | None = None
    api_version: str | None = None
    base_url: str | None = None
    credential: Credential = field(default=None, repr=False)
    max_retries: int = 1  # small on purpose: the orchestrator owns retries (see providers.azure.errors)
    timeout: float = 30.0
    _client: LazyClient[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if bool(self.azure_endpoint) == bool(self.base_url):
            raise ValueError("give exactly one of azure_endpoint or base_url")
        if self.azure_endpoint and not self.api_version:
            raise ValueError("api_version is required for Azure OpenAI")
        self._client = LazyClient(self._build)

    @classmethod
    def for_role(cls, settings: Settings, role: RolePlan, *, timeout: float) -> OpenAIConnection:
        """Azure OpenAI when the plan chose it for `role` (key, or Entra ID), else the OpenAI-compatible server."""
        if role.backend == "azure-openai":
            return cls(
                azure_endpoint=settings.azure_openai_endpoint,
                api_version=settings.azure_openai_api_version,
                credential=settings.azure_openai_api_key,
                timeout=timeout,
            )
        if role.backend != "openai-compatible":
            raise ProviderError.configuration(
                f"no OpenAI endpoint for {role.label}: set AZURE_OPENAI_ENDPOINT and its deployment, "
                "or OPENAI_BASE_URL and its model"
            )
        return cls(base_url=settings.openai_base_url, credential=settings.openai_api_key, timeout=timeout)

    @property
    def endpoint(self) -> str:
        return self.azure_endpoint or self.base_url or ""

    @property
    def is_azure(self) -> bool:
        return self.azure_endpoint is not None

    def client(self) -> Any:  # openai.OpenAI; Any so importing this module never imports openai
        """The SDK client, built on first use."""
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def _build(self) -> object:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ProviderError.configuration("the openai package is not installed") from exc
        if self.azure_endpoint:
            return openai.AzureOpenAI(
                azure_endpoint=self.azure_endpoint,
                api_version=self.api_version,
                max_retries=self.max_retries,
                timeout=self.timeout,
                **openai_auth(self.credential),
            )
        key = self.credential if isinstance(self.credential, str) and self.credential else None
        return openai.OpenAI(
            base_url=self.base_url,
            # Local servers (Ollama, vLLM, llama.cpp) ignore the key, but the SDK insists on one.
            api_key=key or "unused",
            max_retries=self.max_retries,
            timeout=self.timeout,
        )


class OpenAIModel(Closing):
    """A model behind an `OpenAIConnection`: what the chat generator and the embedder share."""

    def __init__(self, connection: OpenAIConnection, model: str, *, operation: str) -> None:
        self._connection = connection
        self._model = model
        # The error translator names the role to check for Azure services.
        self._service = f"{'azure ' if connection.is_azure else ''}openai {operation}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:
        return self._connection.endpoint

    def close(self) -> None:
        self._connection.close()
