"""Azure Service Bus for the CLI: send questions in batches, and peek at what was dead-lettered.

Reached with `azure-servicebus`: identity-based (`DefaultAzureCredential` on
`ServiceBusConnection__fullyQualifiedNamespace`) or a connection string. Peeking never locks or
removes a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cli.errors import CliError
from cli.producer import OutgoingMessage
from config import Settings

__all__ = ["MAX_PEEK", "peek_dead_letters", "send_to_service_bus"]

MAX_PEEK = 1000


def _client(settings: Settings) -> Any:
    try:
        from azure.servicebus import ServiceBusClient
    except ImportError:
        raise CliError("Service Bus is configured but azure-servicebus is missing: pip install '.[azure]'") from None
    if settings.service_bus_connection:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection)
    if not settings.service_bus_namespace:
        raise CliError(
            "Service Bus is not configured: set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace"
        )
    from azure.identity import DefaultAzureCredential

    return ServiceBusClient(settings.service_bus_namespace, credential=DefaultAzureCredential())


def send_to_service_bus(settings: Settings, messages: Iterable[OutgoingMessage]) -> int:
    """Send in as few batches as the size limit allows; returns how many were sent."""
    from azure.servicebus import ServiceBusMessage

    sent = 0
    with _client(settings) as client, client.get_queue_sender(settings.pipeline_queue_name) as sender:
        batch = sender.create_message_batch()
        for message in messages:
            # The SDK's key type is str | bytes: a dict typed by str keys alone is not accepted as one.
            properties: dict[str | bytes, Any] = {key: value for key, value in message.application_properties.items()}
            sb = ServiceBusMessage(
                message.body,
                message_id=message.message_id,
                content_type=message.content_type,
                application_properties=properties,
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


def peek_dead_letters(
    settings: Settings, rejected_row: Callable[[str, str, bytes], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The queue's own dead-letter sub-queue (max deliveries exceeded, with Service Bus's reason) and the
    app's dead-letter queue of invalid messages (the reason in each body, read by `rejected_row`)."""
    from azure.servicebus import ServiceBusSubQueue

    queue, rejected = settings.pipeline_queue_name, settings.pipeline_dead_letter_queue_name
    rows: list[dict[str, Any]] = []
    with _client(settings) as client:
        with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver:
            for message in receiver.peek_messages(max_message_count=MAX_PEEK):
                rows.append(
                    {
                        "queue": f"{queue}/$deadletterqueue",
                        "message_id": message.message_id,
                        "reason": message.dead_letter_reason,
                        "description": message.dead_letter_error_description,
                        "delivery_count": message.delivery_count,
                        "body": _text(b"".join(message.body)),
                    }
                )
        with client.get_queue_receiver(rejected) as receiver:
            for message in receiver.peek_messages(max_message_count=MAX_PEEK):
                rows.append(rejected_row(rejected, message.message_id, b"".join(message.body)))
    return rows


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.hex()
