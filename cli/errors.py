"""The CLI's one error type: a message for one line on stderr and an exit code."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
