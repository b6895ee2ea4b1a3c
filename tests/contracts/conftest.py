"""Every implementation of a role, behind one fixture per role, for the contract suites of this folder.

Each fixture is parametrised by implementation: the local one, and the Azure one talking through its real
SDK to the fakes the per-backend suites already use (the stateful Azure AI Search service of
`tests/retrieval/conftest.py`, the recording server of `tests/providers/azure/conftest.py`, Service Bus's
SDK-boundary client; Azurite for Table storage is started in `test_provenance_store.py`). A contract module
asks for the role's fixture and states what every implementation must do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingestion.chunking import Chunk
from ingestion.ingest import DocumentVersion, IndexWriter
from providers.base import AnswerGenerator, Embedder, Passage, Retriever
from providers.local.hashing_embedder import HashingEmbedder
from tests.providers.azure.conftest import FakeServer, Recorded, Reply, Shapes, _no_ambient_azure
from tests.providers.local_events.conftest import make_event
from tests.retrieval.conftest import search_service

__all__ = ["_no_ambient_azure", "search_service"]  # fixtures taken over from the per-backend suites

# ---------------------------------------------------------------------------------------------------------
# Retriever and IndexWriter: the two sides of one store


@dataclass
class Store:
    """An index's write side and its read side, and the embedder its vectors come from."""

    writer: IndexWriter
    retriever: Retriever
    embedder: HashingEmbedder
    closers: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> Run:
        """One ingestion run, as `ingestion.ingest.index_paths` drives the writer."""
        return Run(self)

    def add(self, source: str, texts: Sequence[str], *, scopes: Sequence[str] = (), digest: str = "") -> list[str]:
        """Index one document in a run of its own; its chunk ids."""
        with self.run() as run:
            return run.replace(source, texts, scopes=scopes, digest=digest)

    def search(self, query: str, *, top_k: int = 10, **options: Any) -> list[Passage]:
        return self.retriever.search(query, self.embedder.embed([query]).vectors[0], top_k=top_k, **options)


class Run:
    """begin … finish around the writes of one run."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writer = store.writer
        self.changed = False

    def __enter__(self) -> Run:
        self.writer.begin(self.store.embedder, recreate=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.finish(changed=self.changed)

    def replace(self, source: str, texts: Sequence[str], *, scopes: Sequence[str] = (), digest: str = "") -> list[str]:
        self.writer.known_hash(source)  # what ingestion asks before it writes a file
        chunks = [Chunk(title=f"Title of {source}", content=text, ordinal=i) for i, text in enumerate(texts)]
        vectors = np.asarray(self.store.embedder.embed_array([f"{c.title}\n{c.content}" for c in chunks]))
        ids = self.writer.replace_document(
            DocumentVersion(source, f"Title of {source}", digest or f"hash-of-{source}", chunks, vectors, scopes)
        )
        self.changed = True
        return ids


@pytest.fixture(scope="session")
def contract_embedder() -> HashingEmbedder:
    return HashingEmbedder(dimensions=64)  # small vectors: the fake search service holds them as JSON


@pytest.fixture(params=["sqlite", "azure-ai-search"])
def store(request: pytest.FixtureRequest, tmp_path: Path, contract_embedder: HashingEmbedder) -> Iterator[Store]:
    if request.param == "sqlite":
        from providers.local.sqlite_index import SqliteIndex

        index = SqliteIndex(tmp_path / "index", embedder=contract_embedder)
        opened = Store(index, index, contract_embedder, [index.close])
    else:
        from providers.azure.search_index import AzureSearchIndexer
        from providers.azure.search_retriever import AzureSearchRetriever

        url = request.getfixturevalue("search_service").url
        indexer = AzureSearchIndexer(url, "admin-key", index_name="docs", retry_total=0, sleep=lambda _: None)
        retriever = AzureSearchRetriever(url, "query-key", index_name="docs", retry_total=0, timeout=5)
        indexer.ensure_index(contract_embedder.dimensions)  # an empty index exists, as after `pipeline index`
        opened = Store(indexer, retriever, contract_embedder, [indexer.close, retriever.close])
    yield opened
    for close in opened.closers:
        close()


# ---------------------------------------------------------------------------------------------------------
# Embedder


def embeddings_model(server: FakeServer, model: HashingEmbedder) -> None:
    """Let the recording server answer every embeddings request as a model would: the vectors of what was sent
    (here a hashing model's), one `data` item per input with its `index`, in the OpenAI response shape."""

    def answer(request: Recorded) -> Reply:
        inputs = request.json()["input"]
        vectors = model.embed(list(inputs)).vectors
        payload = Shapes.embeddings(vectors, model="text-embedding-3-small", tokens=len(inputs))
        payload["data"].reverse()  # the service does not promise the input order: `index` says it
        return Reply.json(payload)

    server.default = answer


@pytest.fixture(params=["hashing", "minilm", "azure-openai"])
def any_embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    if request.param == "hashing":
        yield HashingEmbedder()
    elif request.param == "minilm":
        yield request.getfixturevalue("minilm")
    else:
        from providers.azure.credentials import OpenAIConnection
        from providers.azure.openai_embedder import OpenAIEmbedder

        server = FakeServer()
        embeddings_model(server, HashingEmbedder(dimensions=256))
        connection = OpenAIConnection(
            azure_endpoint=server.url, api_version="2024-10-21", credential="k", max_retries=0, timeout=5
        )
        with OpenAIEmbedder(connection, "emb-small") as embedder:
            yield embedder
        server.close()


@pytest.fixture(scope="session")
def minilm() -> Iterator[Any]:
    pytest.importorskip("onnxruntime")
    from providers.local.minilm_embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    yield embedder
    embedder.close()


# ---------------------------------------------------------------------------------------------------------
# AnswerGenerator


SYNTHETIC: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "providers" / "azure" / "synthetic_completions.json").read_text()
)["completions"]


@dataclass
class Generator:
    """An answer generator, and what its model will say next (`says`: the name of a synthetic completion,
    for a chat model; a local answerer decides from the passages and ignores it)."""

    generator: AnswerGenerator
    says: Callable[[str], None]
    calls: Callable[[], int]


@pytest.fixture(params=["extractive-minilm", "extractive-lexical", "azure-openai-chat"])
def any_generator(request: pytest.FixtureRequest) -> Iterator[Generator]:
    if request.param.startswith("extractive"):
        from providers.local.extractive import ExtractiveAnswerer
        from providers.local.sentence_vectors import SentenceVectors

        # The default answerer (MiniLM sentence vectors), and its fallback without a sentence model.
        vectors = SentenceVectors(request.getfixturevalue("minilm")) if request.param.endswith("minilm") else None
        yield Generator(ExtractiveAnswerer(vectors), lambda _: None, lambda: 0)
        return
    from providers.azure.credentials import OpenAIConnection
    from providers.azure.openai_chat import OpenAIChatGenerator

    server = FakeServer()
    connection = OpenAIConnection(
        azure_endpoint=server.url, api_version="2024-10-21", credential="k", max_retries=0, timeout=5
    )
    with OpenAIChatGenerator(connection, "chat-4o") as generator:
        yield Generator(generator, lambda name: server.reply(Reply.json(SYNTHETIC[name])), lambda: len(server.requests))
    server.close()


# ---------------------------------------------------------------------------------------------------------
# EventPublisher


@dataclass
class Publisher:
    """A publisher, and what its subscribers have received so far (CloudEvents in structured JSON)."""

    publisher: Any  # an EventPublisher; `publish_many` too
    received: Callable[[], list[dict[str, Any]]]
    sent_anything: Callable[[], bool]


@pytest.fixture(params=["local", "eventgrid"])
def any_publisher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Publisher]:
    if request.param == "local":
        from providers.local.events import LocalEventSink
        from tests.providers.local_events.conftest import FAST_BACKOFF, Receiver

        hook = Receiver().start()
        sink = LocalEventSink(tmp_path, [hook.url], backoff=FAST_BACKOFF, poll_interval_s=0.05)

        def delivered() -> list[dict[str, Any]]:
            assert sink.flush(5)
            return [json.loads(r.body) for r in hook.requests]

        def sent_anything() -> bool:
            return (tmp_path / "events.jsonl").exists() or bool(hook.requests)

        yield Publisher(sink, delivered, sent_anything)
        sink.close(timeout_s=1.0)
        hook.stop()
        return
    from providers.azure.eventgrid_publisher import EventGridPublisher

    server = FakeServer()
    server.default = lambda _: Reply(200)

    def posted() -> list[dict[str, Any]]:
        return [item for r in server.requests for item in json.loads(r.body)]

    with EventGridPublisher(f"{server.url}/api/events", "topic-key", retry_total=0, timeout=5) as publisher:
        yield Publisher(publisher, posted, lambda: bool(server.requests))
    server.close()


# The same event the local sink's own tests publish.
outgoing = make_event


# ---------------------------------------------------------------------------------------------------------
# QuestionQueue


@dataclass
class Queue:
    """A question queue, what arrived on it, and two ways a message ends up among its dead letters."""

    queue: Any  # a QuestionQueue
    arrived: Callable[[], list[tuple[str, bytes, dict[str, str], str | None]]]  # (id, body, properties, type)
    given_up: Callable[[str, bytes, str, str], None]  # the queue gave up on it: (id, body, reason, description)
    rejected: Callable[[str, bytes], None]  # the starter moved it to the dead-letter queue: (copy id, envelope)


@pytest.fixture(params=["local", "service-bus"])
def any_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    from config import Settings

    if request.param == "local":
        from embedded_host import LocalQueue, state_path
        from providers.local.question_queue import LocalQuestionQueue

        settings = Settings(pipeline_data_dir=tmp_path)
        path, name, rejects = (
            state_path(tmp_path),
            settings.pipeline_queue_name,
            settings.pipeline_dead_letter_queue_name,
        )

        def arrived() -> list[tuple[str, bytes, dict[str, str], str | None]]:
            with LocalQueue(path, name) as queue:
                return [(m.message_id, m.body, m.application_properties, m.content_type) for m in queue.peek()]

        def given_up(message_id: str, body: bytes, reason: str, description: str) -> None:
            with LocalQueue(path, name) as queue:
                queue.send(body, message_id=message_id)
                (message,) = queue.receive()
                queue.dead_letter(message, reason, description)

        def rejected(message_id: str, envelope: bytes) -> None:
            with LocalQueue(path, rejects) as queue:
                queue.send(envelope, message_id=message_id)

        local = LocalQuestionQueue(settings)
        yield Queue(local, arrived, given_up, rejected)
        local.close()
        return
    from types import SimpleNamespace

    from azure.servicebus import ServiceBusSubQueue

    from providers.azure.service_bus import ServiceBusQueue
    from tests.providers.azure.test_service_bus_queue import SETTINGS, FakeClient

    client = FakeClient()
    request.getfixturevalue("monkeypatch").setattr(ServiceBusQueue, "_build", lambda self: client)
    name, rejects = SETTINGS.pipeline_queue_name, SETTINGS.pipeline_dead_letter_queue_name

    def sent() -> list[tuple[str, bytes, dict[str, str], str | None]]:
        messages = [m for batch in client.sent for m in batch._messages]
        return [
            (
                str(m.message_id),
                m.body if isinstance(m.body, bytes) else b"".join(m.body),
                {str(k): str(v) for k, v in (m.application_properties or {}).items()},
                m.content_type,
            )
            for m in messages
        ]

    def given_up_sb(message_id: str, body: bytes, reason: str, description: str) -> None:
        letter = SimpleNamespace(
            body=[body],
            message_id=message_id,
            dead_letter_reason=reason,
            dead_letter_error_description=description,
            delivery_count=10,
        )
        client.peeked.setdefault((name, ServiceBusSubQueue.DEAD_LETTER), []).append(letter)

    def rejected_sb(message_id: str, envelope: bytes) -> None:
        client.peeked.setdefault((rejects, None), []).append(SimpleNamespace(body=[envelope], message_id=message_id))

    with ServiceBusQueue(SETTINGS) as queue:
        yield Queue(queue, sent, given_up_sb, rejected_sb)
