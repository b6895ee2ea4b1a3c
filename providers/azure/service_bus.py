"""Azure Service Bus as the question queue: send questions in batches, peek at what was dead-lettered.

Identity-based (`ServiceBusConnection__fullyQualifiedNamespace`, through the process's one
`DefaultAzureCredential`) or a connection string (`ServiceBusConnection`). Peeking never locks or removes
a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from contracts.queue import DeadLetterRow, OutgoingMessage, PeekedDeadLetters, sub_queue_name
from providers.azure.credentials import LazyClient, default_credential
from providers.base import Closing
from providers.errors import ProviderError

if TYPE_CHECKING:
    from config import Settings

__all__ = ["ServiceBusQueue", "send_in_batches"]


class ServiceBusQueue(Closing):
    def __init__(self, settings: Settings) -> None:
        if not (settings.service_bus_connection or settings.service_bus_namespace):
            raise ProviderError.configuration(
                "Service Bus is not configured: set ServiceBusConnection"
                " or ServiceBusConnection__fullyQualifiedNamespace"
            )
        self._settings = settings
        self._client: LazyClient[Any] = LazyClient(self._build)

    @property
    def destination(self) -> str:
        namespace = self._settings.service_bus_namespace or "connection-string"
        return f"servicebus:{namespace}/{self._settings.pipeline_queue_name}"

    def _build(self) -> Any:
        try:
            from azure.servicebus import ServiceBusClient
        except ImportError:
            raise ProviderError.configuration(
                "Service Bus is configured but azure-servicebus is missing: pip install '.[azure]'"
            ) from None
        if self._settings.service_bus_connection:
            return ServiceBusClient.from_connection_string(self._settings.service_bus_connection)
        return ServiceBusClient(str(self._settings.service_bus_namespace), credential=default_credential())

    def send(self, messages: Iterable[OutgoingMessage]) -> int:
        """Send in as few batches as the size limit allows; returns how many were sent."""
        from azure.servicebus import ServiceBusMessage

        def to_sdk(message: OutgoingMessage) -> ServiceBusMessage:
            # The SDK's key type is str | bytes: a dict typed by str keys alone is not accepted as one.
            properties: dict[str | bytes, Any] = dict(message.application_properties.items())
            return ServiceBusMessage(
                message.body,
                message_id=message.message_id,
                content_type=message.content_type,
                application_properties=properties,
            )

        with self._client.get().get_queue_sender(self._settings.pipeline_queue_name) as sender:
            return send_in_batches(sender, map(to_sdk, messages))

    def peek_dead_letters(self, limit: int) -> PeekedDeadLetters:
        """The queue's own dead-letter sub-queue (max deliveries exceeded, with Service Bus's reason) and the
        app's dead-letter queue of invalid messages (the reason in each envelope).

        Each queue is read on its own: a queue the identity may not peek (peeking needs Listen, a role
        assignment still applying, a queue that is missing) is reported with the service's reason instead
        of failing the whole view.
        """
        from azure.core.exceptions import AzureError
        from azure.servicebus import ServiceBusSubQueue

        client = self._client.get()
        queue, rejected = self._settings.pipeline_queue_name, self._settings.pipeline_dead_letter_queue_name
        peeked = PeekedDeadLetters()
        try:
            with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver:
                for message in receiver.peek_messages(max_message_count=limit):
                    peeked.items.append(
                        DeadLetterRow.expired(
                            queue,
                            message.message_id,
                            b"".join(message.body),
                            reason=message.dead_letter_reason,
                            description=message.dead_letter_error_description,
                            delivery_count=message.delivery_count,
                        )
                    )
        except AzureError as error:
            peeked.errors.append(_peek_error(sub_queue_name(queue), error))
        try:
            with client.get_queue_receiver(rejected) as receiver:
                for message in receiver.peek_messages(max_message_count=limit):
                    peeked.items.append(DeadLetterRow.rejected(rejected, message.message_id, b"".join(message.body)))
        except AzureError as error:
            peeked.errors.append(_peek_error(rejected, error))
        return peeked

    def close(self) -> None:
        self._client.close()


def send_in_batches(sender: Any, messages: Iterable[Any]) -> int:
    """Send SDK `ServiceBusMessage`s through a queue sender in as few batches as the size limit allows; how many."""
    sent = 0
    batch = sender.create_message_batch()
    for message in messages:
        try:
            batch.add_message(message)
        except ValueError:  # the batch is full: send it and start the next one
            sender.send_messages(batch)
            batch = sender.create_message_batch()
            batch.add_message(message)
        sent += 1
    if len(batch):
        sender.send_messages(batch)
    return sent


def _peek_error(queue: str, error: Exception) -> dict[str, str]:
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return {"queue": queue, "error": f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__}
