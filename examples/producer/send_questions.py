"""Send questions to the pipeline's Service Bus queue: identity-based, batched, traced.

    python -m examples.producer.send_questions --namespace sb-xxxx.servicebus.windows.net \\
        "What does the dead-letter queue hold?" "How are retries configured?"

`DefaultAzureCredential` signs in (`az login` on a workstation, a managed identity on Azure); the
identity needs Azure Service Bus Data Sender on the namespace or queue (azd grants it to whoever
ran `azd up`). Each message carries a `message_id` (the run's idempotency key: a resend does not
start a second run) and a W3C `traceparent` application property, so the pipeline's spans join
the producer's trace. `pipeline enqueue --file questions.jsonl` does the same from the CLI.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import uuid
from collections.abc import Sequence

from azure.identity import DefaultAzureCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from contracts import Question
from providers.azure.service_bus import send_in_batches

__all__ = ["build_message", "main", "new_traceparent", "send"]


def new_traceparent() -> str:
    """A W3C trace context for a new trace (use your tracer's current span instead, if you have one)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def build_message(question: Question, *, traceparent: str) -> ServiceBusMessage:
    return ServiceBusMessage(
        question.model_dump_json(exclude_none=True),
        content_type="application/json",
        message_id=question.request_id or uuid.uuid4().hex,
        application_properties={"traceparent": traceparent},
    )


def send(namespace: str, queue: str, questions: Sequence[Question], *, traceparent: str) -> int:
    """Send in as few batches as the size limit allows; returns how many were sent."""
    with (
        DefaultAzureCredential() as credential,
        ServiceBusClient(namespace, credential=credential) as client,
        client.get_queue_sender(queue) as sender,
    ):
        return send_in_batches(sender, (build_message(question, traceparent=traceparent) for question in questions))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send questions to the Durable AI Pipeline queue.")
    parser.add_argument("questions", nargs="+", help="question texts")
    parser.add_argument(
        "--namespace",
        # The Functions connection-setting name, as azd writes it (environment names are case-sensitive).
        default=os.environ.get("ServiceBusConnection__fullyQualifiedNamespace"),  # noqa: SIM112
        help="<name>.servicebus.windows.net (default: $ServiceBusConnection__fullyQualifiedNamespace)",
    )
    parser.add_argument("--queue", default=os.environ.get("PIPELINE_QUEUE_NAME", "questions"))
    parser.add_argument("--top-k", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.namespace:
        parser.error("give --namespace or set ServiceBusConnection__fullyQualifiedNamespace (azd env get-values)")
    questions = [Question(question=text, top_k=args.top_k) for text in args.questions]
    traceparent = new_traceparent()
    count = send(args.namespace, args.queue, questions, traceparent=traceparent)
    print(f"sent {count} question(s) to {args.queue} (trace {traceparent.split('-')[1]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
