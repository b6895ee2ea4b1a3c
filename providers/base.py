"""One interface per provider role, and the plain values they exchange.

Activities depend on these protocols only; which implementation serves a role is decided in
`providers.factory` from settings. Every method raises `ProviderError` (never an SDK error).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from contracts.queue import OutgoingMessage, PeekedDeadLetters

__all__ = [
    "Answer",
    "AnswerGenerator",
    "Closing",
    "Embedder",
    "Embeddings",
    "EventPublisher",
    "OutgoingEvent",
    "Passage",
    "QuestionQueue",
    "Retriever",
]


class Closing:
    """`with provider:` closes what the provider opened (its `close()`)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    model: str
    input_tokens: int = 0


class Embedder(Protocol):
    """Turns text into vectors (Azure OpenAI embeddings, or a local model)."""

    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Embeddings: ...


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk of a document as the index holds it."""

    id: str
    title: str
    source: str
    content: str
    score: float = 0.0
    page: int | None = None  # 1-based page (slide) of a paginated source


class Retriever(Protocol):
    """Hybrid search over the document index (Azure AI Search, or the local SQLite index)."""

    @property
    def name(self) -> str: ...

    def search(
        self,
        query: str,
        vector: Sequence[float],
        *,
        top_k: int,
        source: str | None = None,
        scopes: Sequence[str] = (),
    ) -> list[Passage]:
        """Best passages first; keyword and vector results fused by reciprocal rank.

        Only passages of documents visible under `scopes` (`contracts.scopes`) are ranked, so `top_k`
        is filled from them alone; the default, no scopes, sees only unscoped documents.
        """
        ...

    def fetch(self, ids: Sequence[str], *, scopes: Sequence[str] = ()) -> list[Passage]:
        """Full passages by id, in the order asked; unknown ids, and ids `scopes` cannot see, are left out."""
        ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A generated answer and the passages it cites, each with the words it quotes."""

    text: str
    quotes: dict[str, str]  # passage id -> quoted snippet, in citation order
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    # The generator's probability (0-1) that the passages answer the question; None when it cannot say.
    confidence: float | None = None


class AnswerGenerator(Protocol):
    """Writes the answer from retrieved passages (a chat model, or the local extractive answerer)."""

    @property
    def model(self) -> str: ...

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer: ...


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """A CloudEvent 1.0 to publish; `data` is JSON-ready."""

    id: str
    type: str
    source: str
    subject: str
    time: str  # RFC 3339
    data: Mapping[str, Any]
    traceparent: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)

    def to_structured(self) -> dict[str, Any]:
        """The CloudEvents JSON format (structured mode) of this event."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": "application/json",
            "data": dict(self.data),
        }
        if self.traceparent:
            body["traceparent"] = self.traceparent
        body.update(self.extensions)
        return body


class EventPublisher(Protocol):
    """Delivers pipeline events (Event Grid, or local webhooks + events.jsonl). Must be idempotent on id."""

    @property
    def destination(self) -> str: ...

    def publish(self, event: OutgoingEvent) -> None: ...


class QuestionQueue(Protocol):
    """The question queue seen from outside the starter (Service Bus, or the embedded host's local queue):
    producers send to it, and its dead letters are peeked, never locked or removed."""

    @property
    def destination(self) -> str: ...

    def send(self, messages: Iterable[OutgoingMessage]) -> int: ...

    def peek_dead_letters(self, limit: int) -> PeekedDeadLetters: ...

    def close(self) -> None: ...
