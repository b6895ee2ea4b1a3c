"""The one error type providers raise; SDK exceptions are translated into it at the boundary."""

from __future__ import annotations

from contracts.errors import ErrorKind, StepError

__all__ = ["ProviderError"]


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
