"""Step errors as data: the kind decides whether the orchestrator retries.

Python's `RetryOptions` cannot tell a 429 from a 400, so activities raise `StepError`, whose
message carries a machine-readable marker; the orchestrator reads it back from the task
failure and retries only what retrying can fix. The marker travels in the failure's text on
Azure Storage, and in its structured failure details on the Durable Task Scheduler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ErrorKind", "ProviderError", "StepError"]

_MARKER = re.compile(r"\[\[pipeline-error (\{.*?\})\]\]", re.DOTALL)


class ErrorKind(StrEnum):
    """Why a step failed. Only `transient` and `internal` are worth another attempt."""

    TRANSIENT = "transient"  # 429, 5xx, timeouts, connection resets
    INVALID_INPUT = "invalid_input"  # data the step cannot work with
    REJECTED = "rejected"  # a 4xx from a service: retrying sends the same bad request
    CONFIGURATION = "configuration"  # missing deployment, index, credentials
    INTERNAL = "internal"  # an unexpected exception: a bug or a crash, retried in case it was transient

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.TRANSIENT, ErrorKind.INTERNAL)


class StepError(BaseModel):
    """A failed attempt as it travels from an activity to the orchestrator (and into Failed events)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ErrorKind
    message: str
    retry_after_s: float | None = None
    # A 401/403: right after deployment, role assignments take minutes to apply, so the orchestrator
    # retries these for the policy's access-denied window before giving up.
    access_denied: bool = False

    def to_exception_message(self) -> str:
        """The text an activity raises with; readable by people, parseable by `from_failure`."""
        return f"{self.kind.value}: {self.message} [[pipeline-error {self.model_dump_json()}]]"

    @classmethod
    def from_failure(cls, failure: str, details: Mapping[str, Any] | None = None) -> StepError:
        """Read the error back from a task failure; anything unmarked is an internal error.

        ``failure`` is the text the SDK raises with; ``details`` the failure details of the task's
        ``TaskFailed`` event, when it has them (the Durable Task Scheduler keeps only those).
        """
        texts = [failure, *_detail_texts(details)]
        # The Durable extension puts the activity's message in the failure twice: plain in the
        # reason, JSON-escaped in the serialised exception after it. Take the first that parses.
        for source in texts:
            for match in _MARKER.finditer(source):
                for text in (match.group(1), match.group(1).replace('\\"', '"')):
                    try:
                        return cls.model_validate(json.loads(text))
                    except ValueError:
                        continue
        lines = [line.strip() for text in texts for line in text.splitlines()]
        # `None`: what the Python SDK makes of a failure without Reason and Details (`f"{None} \n {None}"`).
        first_line = next((line for line in lines if line and line != "None"), "activity failed")
        return cls(kind=ErrorKind.INTERNAL, message=first_line[:500])


def _detail_texts(details: Mapping[str, Any] | None) -> list[str]:
    """The messages and stack traces of a failure-details chain, outermost first.

    Two spellings reach an orchestrator: DurableTask.Core's `FailureDetails` as the extension serialises
    it (`ErrorType`, `ErrorMessage`, `StackTrace`, `InnerFailure`) and the gRPC `TaskFailureDetails` in
    its JSON form (`errorMessage`, `stackTrace`, `innerFailure`). On the Functions host the activity's
    own message is usually an inner failure (the host wraps it in a `FunctionInvocationException`).
    """
    texts: list[str] = []
    node: Any = details
    for _ in range(10):  # a chain is a handful deep; a cycle must not hang the orchestrator
        if not isinstance(node, Mapping):
            break
        for key in ("ErrorMessage", "errorMessage", "StackTrace", "stackTrace"):
            value = node.get(key)
            if isinstance(value, str) and value.strip():
                texts.append(value)
        node = node.get("InnerFailure", node.get("innerFailure"))
    return texts


class ProviderError(Exception):
    """A provider call failed; `kind` tells the orchestrator whether another attempt can help."""

    def __init__(
        self, kind: ErrorKind, message: str, *, retry_after_s: float | None = None, access_denied: bool = False
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s
        self.access_denied = access_denied  # a 401/403: may clear once role assignments apply

    @property
    def retryable(self) -> bool:
        return self.kind.retryable

    def to_step_error(self) -> StepError:
        return StepError(
            kind=self.kind, message=self.message, retry_after_s=self.retry_after_s, access_denied=self.access_denied
        )

    @classmethod
    def transient(cls, message: str, *, retry_after_s: float | None = None) -> ProviderError:
        return cls(ErrorKind.TRANSIENT, message, retry_after_s=retry_after_s)

    @classmethod
    def rejected(cls, message: str) -> ProviderError:
        return cls(ErrorKind.REJECTED, message)

    @classmethod
    def configuration(cls, message: str) -> ProviderError:
        return cls(ErrorKind.CONFIGURATION, message)

    @classmethod
    def invalid_input(cls, message: str) -> ProviderError:
        return cls(ErrorKind.INVALID_INPUT, message)

    @classmethod
    def internal(cls, message: str) -> ProviderError:
        return cls(ErrorKind.INTERNAL, message)
