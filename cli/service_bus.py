"""Azure Service Bus for the CLI: send questions in batches, and peek at what was dead-lettered.

Reached with `azure-servicebus`: identity-based (`DefaultAzureCredential` on
`ServiceBusConnection__fullyQualifiedNamespace`) or a connection string. Peeking never locks or
removes a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cli.errors import CliError
from cli.producer import OutgoingMessage
from config import Settings
from providers.monitor_feeds import PeekedDeadLetters, peek_service_bus_dead_letters, service_bus_client

__all__ = ["MAX_PEEK", "peek_dead_letters", "send_to_service_bus"]

MAX_PEEK = 1000


def _client(settings: Settings) -> Any:
    try:
        return service_bus_client(settings)
    except ImportError:
        raise CliError("Service Bus is configured but azure-servicebus is missing: pip install '.[azure]'") from None
    except ValueError as error:
        raise CliError(str(error)) from None


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


def peek_dead_letters(settings: Settings) -> PeekedDeadLetters:
    """What Service Bus holds as dead letters (the queue's sub-queue and the app's rejected-message queue),
    and the queues that could not be peeked."""
    return peek_service_bus_dead_letters(_client(settings), settings, limit=MAX_PEEK)
