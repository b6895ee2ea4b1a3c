"""Which backend serves each role, resolved from settings once.

`ProviderPlan.from_settings` is the only place that reads the Azure/OpenAI settings to choose a
backend: the factory builds what the plan names, the start-up log line and `pipeline serve` print
its labels, and the GenAI spans read each role's `genai_provider` and `data_source` from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["Backend", "ProviderPlan", "Role", "RolePlan"]

Role = Literal["embeddings", "retrieval", "generation", "events"]
Backend = Literal[
    "azure-openai", "openai-compatible", "azure-ai-search", "event-grid", "service-bus", "local", "local-sqlite"
]

# `gen_ai.provider.name` of each backend: the well-known value where the conventions name one.
_GENAI_PROVIDER: dict[str, str] = {
    "azure-openai": "azure.ai.openai",
    "openai-compatible": "openai",
    "azure-ai-search": "azure.ai.search",
    "event-grid": "event-grid",
    "service-bus": "servicebus",
    "local": "local",
    "local-sqlite": "local",
}


@dataclass(frozen=True, slots=True)
class RolePlan:
    """One role's backend and what it serves: a model or deployment, an index, a destination."""

    backend: Backend
    target: str

    @property
    def label(self) -> str:
        """How logs and `pipeline serve` name it: `backend:target`."""
        return f"{self.backend}:{self.target}"

    @property
    def genai_provider(self) -> str:
        """`gen_ai.provider.name` of this backend."""
        return _GENAI_PROVIDER[self.backend]

    @property
    def data_source(self) -> str:
        """`gen_ai.data_source.id` of a retriever: the Azure AI Search index name, or `local-index`.

        The local index is named by role, not by its path: a path is neither an identifier a
        dashboard can group by nor something to ship to a telemetry backend.
        """
        return self.target if self.backend == "azure-ai-search" else "local-index"

    @property
    def openai(self) -> bool:
        """Served through the `openai` SDK (Azure OpenAI or an OpenAI-compatible server)."""
        return self.backend in ("azure-openai", "openai-compatible")


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    embeddings: RolePlan
    retrieval: RolePlan
    generation: RolePlan
    events: RolePlan
    queue: RolePlan  # where questions are queued and dead letters peeked (not a step of the pipeline)

    @classmethod
    def from_settings(cls, s: Settings) -> ProviderPlan:
        """Azure services where their settings are present, else the embedded default."""
        if s.azure_openai_endpoint and s.azure_openai_embedding_deployment:
            embeddings = RolePlan("azure-openai", s.azure_openai_embedding_deployment)
        elif s.openai_base_url and s.openai_embedding_model:
            embeddings = RolePlan("openai-compatible", s.openai_embedding_model)
        else:
            embeddings = RolePlan("local", s.pipeline_local_embedder)
        if s.azure_search_endpoint and s.azure_search_index:
            retrieval = RolePlan("azure-ai-search", s.azure_search_index)
        else:
            retrieval = RolePlan("local-sqlite", str(s.pipeline_data_dir / "index"))
        if s.azure_openai_endpoint and s.azure_openai_chat_deployment:
            generation = RolePlan("azure-openai", s.azure_openai_chat_deployment)
        elif s.openai_base_url and s.openai_chat_model:
            generation = RolePlan("openai-compatible", s.openai_chat_model)
        else:
            generation = RolePlan("local", "extractive")
        if s.eventgrid_topic_endpoint:
            events = RolePlan("event-grid", s.eventgrid_topic_endpoint)
        else:
            webhooks = f"{s.pipeline_data_dir / 'events.jsonl'} + {len(s.event_webhooks)} webhook(s)"
            events = RolePlan("local", webhooks)
        if s.service_bus_namespace or s.service_bus_connection:
            queue = RolePlan("service-bus", f"{s.service_bus_namespace or 'connection-string'}/{s.pipeline_queue_name}")
        else:
            queue = RolePlan("local", s.pipeline_queue_name)
        return cls(embeddings, retrieval, generation, events, queue)

    def labels(self) -> dict[str, str]:
        """role -> label, as the start-up log line and `pipeline serve` print them."""
        return {role.name: getattr(self, role.name).label for role in fields(self)}
