"""All settings of the app as one typed object, parsed lazily and cached.

Azure services are used when their settings are present; otherwise the embedded default.
Names are the public setting names (environment variables / app settings) that the README lists.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from contracts import RetryPolicy, StepName

__all__ = ["Settings", "SettingsError", "get_settings"]


class SettingsError(ValueError):
    """A setting that is malformed, or a service configured by halves: one line naming the setting."""


# Settings that mean nothing alone: (the one that names the service, those that choose what it serves, extras).
# Half a configuration must not quietly fall back to the embedded default: a typo would go unnoticed until
# answers came from the wrong model.
_SERVICES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "azure_openai_endpoint",
        ("azure_openai_embedding_deployment", "azure_openai_chat_deployment"),
        ("azure_openai_api_key",),
    ),
    ("openai_base_url", ("openai_embedding_model", "openai_chat_model"), ()),
    ("azure_search_endpoint", ("azure_search_index",), ("azure_search_api_key", "azure_search_semantic_configuration")),
    ("eventgrid_topic_endpoint", (), ("eventgrid_topic_key",)),
    ("azure_document_intelligence_endpoint", (), ("azure_document_intelligence_key",)),
    ("pipeline_provenance_table_endpoint", (), ("pipeline_provenance_table_key",)),
)


class Settings(BaseModel):
    """Read from the environment when made: a field's value is the variable of its name (or of one of its
    aliases), in any case; an empty variable counts as unset. Values given to the constructor win.

    A plain pydantic model and `_environment` below rather than pydantic-settings: these flat, named values
    are all it read for us, and importing it (its dotenv, CLI and cloud-secret sources) cost every command
    of the CLI about 45 ms, a twentieth of a `pipeline ask`.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self)), **values})

    # Azure OpenAI (key optional: managed identity through DefaultAzureCredential when absent)
    azure_openai_endpoint: str | None = None
    azure_openai_embedding_deployment: str | None = None
    azure_openai_chat_deployment: str | None = None
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_api_key: str | None = None
    # Any OpenAI-compatible server (Ollama, vLLM, llama.cpp)
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_chat_model: str | None = None
    openai_embedding_model: str | None = None

    # Azure AI Search
    azure_search_endpoint: str | None = None
    azure_search_index: str | None = None
    azure_search_api_key: str | None = None
    azure_search_semantic_configuration: str | None = None

    # Azure AI Document Intelligence: when set, `pipeline index` reads PDFs and images with its layout model
    azure_document_intelligence_endpoint: str | None = None
    azure_document_intelligence_key: str | None = None

    # Event Grid
    eventgrid_topic_endpoint: str | None = None
    eventgrid_topic_key: str | None = None

    # Provenance on Azure: the Table service endpoint of the Functions storage account (identity-based)
    pipeline_provenance_table_endpoint: str | None = None
    pipeline_provenance_table_key: SecretStr | None = None  # Azurite or a shared key; identity when absent
    pipeline_provenance_table_prefix: str = Field(default="pipeline", pattern=r"^[A-Za-z][A-Za-z0-9]{0,40}$")
    pipeline_reanswer: bool = Field(
        default=False,
        description="`pipeline index` asks stale answers' questions again without --reanswer (e.g. in the "
        "postdeploy hook's run against Azure, where the new runs go to Service Bus).",
    )

    # Telemetry
    applicationinsights_connection_string: str | None = None
    pipeline_record_content: bool = Field(
        default=False, description="Record question and answer text in telemetry (off: privacy by default)."
    )
    # OpenTelemetry's own variables, as far as they choose the exporters and the sampler (the SDK reads the
    # rest itself). Kept as text: the SDK ignores a value it does not know rather than refusing to start.
    otel_sdk_disabled: str = ""
    otel_traces_sampler: str = ""
    otel_exporter_otlp_endpoint: str = ""
    otel_exporter_otlp_traces_endpoint: str = ""
    otel_exporter_otlp_metrics_endpoint: str = ""
    otel_exporter_otlp_logs_endpoint: str = ""
    otel_traces_exporter: str = "otlp"
    otel_metrics_exporter: str = "otlp"
    otel_logs_exporter: str = "otlp"
    otel_service_name: str = ""
    otel_resource_attributes: str = ""
    # Set by the Functions host for its worker (Flex Consumption may omit the first).
    functions_worker_runtime: str = ""
    functions_extension_version: str = ""
    azurewebjobsscriptroot: str = Field(
        default="", validation_alias=AliasChoices("AzureWebJobsScriptRoot", "azurewebjobsscriptroot")
    )

    # Local defaults
    pipeline_data_dir: Path = Path(".pipeline")
    pipeline_event_webhooks: str = ""
    pipeline_event_source: str = "/durable-ai-pipeline"
    pipeline_local_embedder: Literal["minilm", "hash"] = Field(
        default="minilm", description="minilm (all-MiniLM-L6-v2, the default) or hash (numpy only, lexical)."
    )
    pipeline_snippet_chars: int = Field(default=240, ge=40, le=2000, description="Longest quote per citation.")
    pipeline_event_retry_window_s: float | None = Field(
        default=None, gt=0, description="How long a webhook delivery is retried before events-undelivered.jsonl."
    )

    pipeline_allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names `pipeline serve` also answers to (beside localhost and its address).",
    )

    pipeline_ann_threshold: int = Field(
        default=50_000, ge=0, description="Chunks from which the local index uses HNSW (ann extra); 0: always exact."
    )

    # What a commit to the local SQLite files survives (docs/durability.md); the host reads the same setting.
    pipeline_durability: Literal["process-crash", "power-loss"] = Field(
        default="process-crash",
        description="process-crash (synchronous=NORMAL) or power-loss (synchronous=FULL: every commit fsynced).",
    )
    pipeline_retention_days: float | None = Field(
        default=None, gt=0, description="Finished runs older than this many days are purged by the host (unset: off)."
    )

    # Fault injection, for rehearsing failures (see providers/faults.py): "generation=transient:0.3,..."
    pipeline_faults: str = ""
    pipeline_faults_seed: int | None = None

    # Service Bus
    pipeline_queue_name: str = "questions"
    pipeline_dead_letter_queue_name: str = "questions-deadletter"
    service_bus_namespace: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ServiceBusConnection__fullyQualifiedNamespace", "service_bus_namespace"),
    )
    service_bus_connection: str | None = Field(
        default=None, validation_alias=AliasChoices("ServiceBusConnection", "service_bus_connection")
    )

    # Retries: defaults for every step, overridable per step (PIPELINE_RETRY_EMBED_QUERY_MAX_ATTEMPTS ...)
    pipeline_retry_max_attempts: int = Field(default=3, ge=1, le=20)
    pipeline_retry_first_interval_ms: int = Field(default=1000, ge=0)
    pipeline_retry_backoff_coefficient: float = Field(default=2.0, ge=1.0)
    pipeline_retry_max_interval_ms: int = Field(default=30_000, ge=0)
    pipeline_retry_access_denied_window_s: float = Field(default=600.0, ge=0, le=86_400)
    pipeline_retry_embed_query_max_attempts: int | None = None
    pipeline_retry_embed_query_first_interval_ms: int | None = None
    pipeline_retry_search_documents_max_attempts: int | None = None
    pipeline_retry_search_documents_first_interval_ms: int | None = None
    pipeline_retry_generate_answer_max_attempts: int | None = None
    pipeline_retry_generate_answer_first_interval_ms: int | None = None
    pipeline_retry_publish_result_max_attempts: int | None = None
    pipeline_retry_publish_result_first_interval_ms: int | None = None
    # `pipeline export` from a deployed app: its base URL and the Durable extension's system key
    pipeline_export_url: str | None = None
    pipeline_export_key: SecretStr | None = None

    @field_validator("pipeline_data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("pipeline_local_embedder", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _whole_services(self) -> Settings:
        for endpoint, choices, extras in _SERVICES:
            given = [name for name in (*choices, *extras) if getattr(self, name)]
            if getattr(self, endpoint) is None and given:
                raise ValueError(f"{given[0].upper()} is set but {endpoint.upper()} is not: set it too, or unset both")
            if getattr(self, endpoint) is not None and choices and not any(getattr(self, c) for c in choices):
                wanted = " or ".join(c.upper() for c in choices)
                raise ValueError(
                    f"{endpoint.upper()} is set but {wanted} is not: name what it serves, "
                    f"or unset {endpoint.upper()} for the embedded default"
                )
        return self

    @property
    def event_webhooks(self) -> list[str]:
        return [url.strip() for url in self.pipeline_event_webhooks.split(",") if url.strip()]

    @property
    def on_azure_functions(self) -> bool:
        """Running as a worker of the Functions host (on Azure, or under Core Tools)."""
        return bool(self.functions_worker_runtime or self.functions_extension_version or self.azurewebjobsscriptroot)

    def otlp_enabled(self, signal: Literal["traces", "metrics", "logs"]) -> bool:
        """An OTLP endpoint is given for `signal`, generic or its own, and `OTEL_<SIGNAL>_EXPORTER` is not none."""
        endpoint = self.otel_exporter_otlp_endpoint or getattr(self, f"otel_exporter_otlp_{signal}_endpoint")
        return bool(endpoint) and getattr(self, f"otel_{signal}_exporter").strip().lower() != "none"

    @property
    def allowed_hosts(self) -> list[str]:
        return [name.strip() for name in self.pipeline_allowed_hosts.split(",") if name.strip()]

    def retry_policy(self, step: StepName) -> RetryPolicy:
        attempts = getattr(self, f"pipeline_retry_{step.value}_max_attempts")
        first = getattr(self, f"pipeline_retry_{step.value}_first_interval_ms")
        return RetryPolicy(
            max_attempts=attempts or self.pipeline_retry_max_attempts,
            first_interval_ms=self.pipeline_retry_first_interval_ms if first is None else first,
            backoff_coefficient=self.pipeline_retry_backoff_coefficient,
            max_interval_ms=self.pipeline_retry_max_interval_ms,
            access_denied_window_ms=int(self.pipeline_retry_access_denied_window_s * 1000),
        )

    def retry_policies(self) -> dict[StepName, RetryPolicy]:
        return {step: self.retry_policy(step) for step in StepName}


def _environment(model: type[BaseModel]) -> dict[str, str]:
    """Each field's variable, found by its name or, in order, its aliases, in any case; empty ones left out."""
    variables = {name.lower(): value for name, value in os.environ.items() if value != ""}
    found: dict[str, str] = {}
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        for candidate in alias.choices if isinstance(alias, AliasChoices) else (name,):
            value = variables.get(str(candidate).lower())
            if value is not None:
                found[name] = value
                break
    return found


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, parsed on first use (never at import); `SettingsError` when invalid."""
    try:
        return Settings()
    except ValidationError as invalid:
        raise SettingsError(_one_line(invalid)) from None


def _one_line(invalid: ValidationError) -> str:
    """The first problem, named by its setting; the value is not echoed (it may be a key)."""
    error = invalid.errors()[0]
    if error["type"] == "value_error":  # from `_whole_services`: its message names the settings
        return str(error["ctx"]["error"])
    name = str(error["loc"][0]).upper() if error["loc"] else "settings"
    more = len(invalid.errors()) - 1
    return f"setting {name}: {error['msg']}" + (f" (and {more} more)" if more else "")
