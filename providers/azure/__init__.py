"""Azure implementations of the provider roles: Azure OpenAI (and any OpenAI-compatible server, one
class each for embeddings and answers over an `OpenAIConnection`), Azure AI Search for retrieval (and
`AzureSearchIndexer`, its `ingestion.ingest.IndexWriter`), Event Grid for events.

The SDKs are imported inside each module's calls, never here, so importing this package costs
nothing and works without the Azure extras installed; clients are built on first use.
"""

from providers.azure.eventgrid_publisher import EventGridPublisher
from providers.azure.openai_chat import OpenAIChatGenerator
from providers.azure.openai_embedder import OpenAIEmbedder
from providers.azure.search_retriever import AzureSearchRetriever

__all__ = [
    "AzureSearchRetriever",
    "EventGridPublisher",
    "OpenAIChatGenerator",
    "OpenAIEmbedder",
]
