"""The producer example: identity-based client, batches split at the size limit, traceparent on each message."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Question
from examples.producer import send_questions


class _Batch:
    def __init__(self, limit: int) -> None:
        self.messages: list[Any] = []
        self.limit = limit

    def add_message(self, message: Any) -> None:
        if len(self.messages) >= self.limit:
            raise ValueError("batch full")
        self.messages.append(message)

    def __len__(self) -> int:
        return len(self.messages)


class _Fake:
    """Stands for the credential, the client and the sender at once."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __enter__(self) -> _Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get_queue_sender(self, queue: str) -> _Fake:
        self.record["queue"] = queue
        return self

    def create_message_batch(self) -> _Batch:
        return _Batch(limit=2)

    def send_messages(self, batch: _Batch) -> None:
        self.record.setdefault("batches", []).append(batch.messages)


def test_send_batches_with_identity_and_traceparent(monkeypatch: pytest.MonkeyPatch) -> None:
    record: dict[str, Any] = {}
    monkeypatch.setattr(send_questions, "DefaultAzureCredential", lambda: _Fake(record))

    def client(namespace: str, *, credential: Any) -> _Fake:
        record["namespace"], record["credential"] = namespace, credential
        return _Fake(record)

    monkeypatch.setattr(send_questions, "ServiceBusClient", client)
    questions = [Question(question=f"q{i}", request_id=f"r{i}") for i in range(5)]
    traceparent = send_questions.new_traceparent()
    assert send_questions.send("sb-x.servicebus.windows.net", "questions", questions, traceparent=traceparent) == 5
    assert record["namespace"] == "sb-x.servicebus.windows.net"
    assert isinstance(record["credential"], _Fake)  # a token credential, never a connection string
    assert record["queue"] == "questions"
    assert [len(b) for b in record["batches"]] == [2, 2, 1]
    sent = [m for b in record["batches"] for m in b]
    assert [m.message_id for m in sent] == [f"r{i}" for i in range(5)]
    assert all(m.application_properties["traceparent"] == traceparent for m in sent)
    assert Question.model_validate_json(str(sent[0])) == questions[0]


def test_traceparent_is_w3c() -> None:
    version, trace_id, span_id, flags = send_questions.new_traceparent().split("-")
    assert (version, len(trace_id), len(span_id), flags) == ("00", 32, 16, "01")
