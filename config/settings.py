"""All settings of the app as one typed object, parsed lazily and cached.

Azure services are used when their settings are present; otherwise the embedded default.
Names are the public setting names (environment variables / app settings) that the README lists.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import RetryPolicy, StepName

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, populate_by_name=True, env_ignore_empty=True
    )

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

    @property
    def event_webhooks(self) -> list[str]:
        return [url.strip() for url in self.pipeline_event_webhooks.split(",") if url.strip()]

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, parsed on first use (never at import)."""
    return Settings()
