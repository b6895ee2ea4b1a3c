"""SDK and HTTP failures of the Azure (and OpenAI-compatible) providers, classified in one place.

Every provider in this package calls `translate(exc, service=...)` (or uses `translating(...)`)
at its boundary, so the orchestrator only ever sees `ProviderError` and its `ErrorKind` decides
whether another attempt can help:

- 408, 429, 5xx, timeouts, refused or reset connections -> TRANSIENT (with the service's
  `Retry-After` / `retry-after-ms` hint in `retry_after_s`);
- 401, 403 and failed credentials -> CONFIGURATION (a key or a role assignment is wrong); a 401/403
  from an Azure service is marked `access_denied` and its message names the role to check, because right after
  deployment role assignments take minutes to apply and the orchestrator retries it for a while;
- 404 -> CONFIGURATION (a missing deployment, index or topic: retrying cannot create it); a missing
  search index says to run `pipeline index`;
- any other 4xx -> REJECTED (the same request would be refused again);
- a response the code cannot read -> INTERNAL.

Messages are redacted (`redact`): configured keys and connection strings, `key=value` secrets and bearer
tokens become `***`, because some servers quote a rejected key and these messages reach status, events
and spans.

SDK-internal retries are kept small where the clients are built (openai `max_retries=1`,
azure-core `retry_total=1`): the orchestrator owns retries, with per-step backoff the run can
see; SDK retries hidden inside one attempt would multiply them and stretch activity time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from contracts.errors import ErrorKind
from providers.errors import ProviderError
from providers.retrying import retry_after_seconds

__all__ = [
    "classify_status",
    "redact",
    "translate",
    "translating",
]

_MAX_MESSAGE = 500


def classify_status(status: int) -> ErrorKind:
    """The error kind of an HTTP status code (only meaningful for status >= 400)."""
    if status in (408, 429) or status >= 500:
        return ErrorKind.TRANSIENT
    if status in (401, 403, 404):
        return ErrorKind.CONFIGURATION
    if 400 <= status < 500:
        return ErrorKind.REJECTED
    return ErrorKind.INTERNAL  # a non-error status reported as an error: the code misread something


def translate(exc: BaseException, *, service: str) -> ProviderError:
    """The `ProviderError` for an exception raised by an SDK call to `service`."""
    if isinstance(exc, ProviderError):
        return exc
    translated = _from_openai(exc, service) or _from_azure_core(exc, service)
    if translated is not None:
        return translated
    if isinstance(exc, (KeyError, IndexError, TypeError, ValueError, AttributeError)):
        return ProviderError.internal(_message(service, f"unexpected response: {exc!r}"))
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return ProviderError.transient(_message(service, f"network error: {exc}"))
    return ProviderError.internal(_message(service, f"{type(exc).__name__}: {exc}"))


@contextmanager
def translating(service: str) -> Iterator[None]:
    """Run a block of SDK calls; anything they raise leaves as a `ProviderError`."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        translated = translate(exc, service=service)
        _scrub(exc)  # the cause stays chained for debugging, without a key it may quote
        raise translated from exc


def _message(service: str, detail: str) -> str:
    # One line: SDK messages (credential chains especially) span many lines and end up in events.
    text = redact(" ".join(f"{service}: {detail}".split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


# `key=value` secrets in connection strings and URLs, and bearer tokens, whatever their value.
_SECRET_PAIRS = re.compile(
    r"(?i)\b(SharedAccessKey|SharedAccessSignature|AccountKey|InstrumentationKey|sig|api[-_]?key|password|token)"
    r"=([^;&\s\"']+)"
)
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+")


def _configured_secrets() -> list[str]:
    """The keys and connection strings in this process's settings (and a connection string's key)."""
    try:
        from config import get_settings

        s = get_settings()
    except Exception:  # settings that do not parse cannot have reached a service either
        return []
    values = [
        s.azure_openai_api_key,
        s.openai_api_key,
        s.azure_search_api_key,
        s.azure_document_intelligence_key,
        s.eventgrid_topic_key,
        s.service_bus_connection,
        s.applicationinsights_connection_string,
    ]
    values += [m.group(2) for v in values if v for m in _SECRET_PAIRS.finditer(v)]
    return sorted({v for v in values if v and len(v) >= 8}, key=len, reverse=True)


def _scrub(exc: BaseException | None, depth: int = 0) -> None:
    """Redact an SDK exception (and what it chains) in place: a formatted traceback, as span exception
    events and logs record it, prints each exception of the chain with `str()`, i.e. from its `args`."""
    if exc is None or depth > 5:
        return
    text = str(exc)
    clean = redact(text)
    if clean != text:
        exc.args = (clean,)
        if isinstance(getattr(exc, "message", None), str):
            exc.message = clean  # type: ignore[attr-defined]
        if getattr(exc, "body", None) is not None:
            exc.body = None  # type: ignore[attr-defined]
    _scrub(exc.__cause__, depth + 1)
    _scrub(exc.__context__, depth + 1)


def redact(text: str) -> str:
    """`text` without the configured secrets, `key=value` secrets or bearer tokens: services (and some
    OpenAI-compatible servers) echo a rejected key in their error message, and these messages travel on
    into status, Failed events and spans."""
    for secret in _configured_secrets():
        text = text.replace(secret, "***")
    text = _SECRET_PAIRS.sub(lambda m: f"{m.group(1)}=***", text)
    return _BEARER.sub("Bearer ***", text)


# The role this app's identity needs on each service (infra/ assigns them), by service name prefix.
_ROLES = {
    "azure openai": "'Cognitive Services OpenAI User' on the Azure OpenAI account (or a valid key)",
    "azure ai search": "'Search Index Data Reader' on the search service ('Search Index Data Contributor' "
    "to index) (or a valid key)",
    "event grid": "'EventGrid Data Sender' on the topic (or a valid key)",
}


def _hint(status: int, service: str) -> str:
    if status in (401, 403):
        role = next((text for prefix, text in _ROLES.items() if service.startswith(prefix)), None)
        return f" Check that the app's identity has {role}; new role assignments take minutes to apply." if role else ""
    if status == 404 and service.startswith("azure ai search"):
        return " The index does not exist: run `pipeline index PATH...` to create and fill it."
    return ""


def _from_status(status: int, headers: Mapping[str, str] | None, service: str, detail: str) -> ProviderError:
    kind = classify_status(status)
    retry_after = retry_after_seconds(headers) if kind is ErrorKind.TRANSIENT else None
    # The hint goes after the detail, so clipping a long service message cannot cut it off.
    text = _message(service, f"HTTP {status}: {detail}")
    hint = _hint(status, service)
    if hint:
        text = text[: _MAX_MESSAGE - len(hint)] + hint
    # Only Azure services wait for role assignments; another OpenAI-compatible server's 401 is just a bad key.
    access_denied = status in (401, 403) and any(service.startswith(prefix) for prefix in _ROLES)
    return ProviderError(kind, text, retry_after_s=retry_after, access_denied=access_denied)


def _from_openai(exc: BaseException, service: str) -> ProviderError | None:
    try:
        import openai
    except ImportError:  # the openai extra is not installed, so it cannot have raised
        return None
    if not isinstance(exc, openai.OpenAIError):
        return None
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc.status_code, _headers_of(exc.response), service, _openai_detail(exc))
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError.internal(_message(service, f"unexpected response: {exc.message}"))
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError.transient(_message(service, "request timed out"))
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return ProviderError.transient(_message(service, f"connection failed: {cause or exc.message}"))
    if "credential" in str(exc).lower() or "api_key" in str(exc).lower():
        return ProviderError.configuration(_message(service, str(exc)))
    return ProviderError.internal(_message(service, f"{type(exc).__name__}: {exc}"))


def _openai_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            code = inner.get("code")
            return f"{inner['message']}" + (f" ({code})" if code else "")
    return str(getattr(exc, "message", exc))


def _from_azure_core(exc: BaseException, service: str) -> ProviderError | None:
    try:
        from azure.core import exceptions as core
    except ImportError:  # azure-core is not installed, so it cannot have raised
        return None
    if not isinstance(exc, core.AzureError):
        return None
    # Order matters: the specific subclasses of HttpResponseError come before the status rule.
    if isinstance(exc, core.ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        # Raised by a credential (no HTTP response): no identity or key is available here.
        return ProviderError.configuration(_message(service, f"authentication failed: {exc.message}"))
    if isinstance(exc, core.DecodeError):
        return ProviderError.internal(_message(service, f"unreadable response: {exc.message}"))
    if isinstance(exc, core.HttpResponseError):
        status = exc.status_code
        response = exc.response
        if status is None and response is not None:
            status = getattr(response, "status_code", None)
        if status is None:
            if isinstance(exc, (core.ClientAuthenticationError, core.ResourceNotFoundError)):
                return ProviderError.configuration(_message(service, exc.message))
            return ProviderError.transient(_message(service, exc.message))
        return _from_status(status, _headers_of(response), service, _azure_detail(exc))
    if isinstance(exc, (core.ServiceRequestError, core.ServiceResponseError)):
        # Connection refused or reset, DNS failure, read timeout: the request may succeed later.
        return ProviderError.transient(_message(service, f"connection failed: {exc.message}"))
    if isinstance(exc, core.DeserializationError):
        return ProviderError.internal(_message(service, f"unreadable response: {exc}"))
    return ProviderError.internal(_message(service, f"{type(exc).__name__}: {exc.message}"))


def _azure_detail(exc: Any) -> str:
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "message", None):
        code = getattr(error, "code", None)
        return f"{error.message}" + (f" ({code})" if code else "")
    reason = getattr(exc, "reason", None)
    first_line = str(exc.message or reason or exc).splitlines()
    return first_line[0] if first_line else type(exc).__name__


def _headers_of(response: Any) -> Mapping[str, str] | None:
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else (dict(headers) if headers is not None else None)
