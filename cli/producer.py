"""Producer side of `pipeline enqueue`: to Azure Service Bus when configured, else the local queue.

Service Bus is reached with `azure-servicebus`: identity-based (`DefaultAzureCredential` on
`ServiceBusConnection__fullyQualifiedNamespace`) or a connection string. Every message carries
a `message_id` (the run's idempotency key) and the producer's `traceparent`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cli.errors import CliError
from config import Settings
from contracts import Question

__all__ = ["OutgoingMessage", "read_questions_file", "send_to_service_bus"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: bytes
    message_id: str
    application_properties: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"

    @classmethod
    def for_question(cls, question: Question, *, message_id: str | None, traceparent: str | None) -> OutgoingMessage:
        props = {"traceparent": traceparent} if traceparent else {}
        body = question.model_dump_json(exclude_none=True).encode()
        return cls(
            body=body, message_id=message_id or question.request_id or uuid.uuid4().hex, application_properties=props
        )


def read_questions_file(path: Path, *, traceparent: str | None) -> Iterator[OutgoingMessage]:
    """One Question per line of a JSONL file; a bad line stops with its line number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = Question.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "line"
            raise CliError(f"{path}:{number}: {where}: {first['msg']}") from None
        yield OutgoingMessage.for_question(question, message_id=None, traceparent=traceparent)


def _service_bus_client(settings: Settings) -> Any:
    try:
        from azure.servicebus import ServiceBusClient
    except ImportError:
        raise CliError("Service Bus is configured but azure-servicebus is missing: pip install '.[azure]'") from None
    if settings.service_bus_connection:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection)
    from azure.identity import DefaultAzureCredential

    return ServiceBusClient(settings.service_bus_namespace, credential=DefaultAzureCredential())


def send_to_service_bus(settings: Settings, messages: Iterable[OutgoingMessage]) -> int:
    """Send in as few batches as the size limit allows; returns how many were sent."""
    from azure.servicebus import ServiceBusMessage

    sent = 0
    with _service_bus_client(settings) as client, client.get_queue_sender(settings.pipeline_queue_name) as sender:
        batch = sender.create_message_batch()
        for message in messages:
            sb = ServiceBusMessage(
                message.body,
                message_id=message.message_id,
                content_type=message.content_type,
                application_properties=message.application_properties,
            )
            try:
                batch.add_message(sb)
            except ValueError:  # batch full: send it and start the next one
                sender.send_messages(batch)
                batch = sender.create_message_batch()
                batch.add_message(sb)
            sent += 1
        if len(batch):
            sender.send_messages(batch)
    return sent


def describe(message: OutgoingMessage) -> str:
    try:
        question = json.loads(message.body).get("question", "")
    except (ValueError, AttributeError):
        question = ""
    return f"{message.message_id}: {question[:60]}"
