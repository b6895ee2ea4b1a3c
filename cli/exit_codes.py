"""The exit codes of every `pipeline` command, in one place so scripts can rely on them.

0 the command did what was asked (a run it reports on Completed, a replay found nothing to fix);
1 the work ran and did not succeed (a run Failed or was Terminated, a replay diverged, a file failed to index);
2 the request was wrong (bad arguments, an invalid question, an unknown instance id, unreadable input);
3 not finished yet (a run still Pending or Running, or `ask` gave up waiting): ask again later;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "for_runtime_status"]


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FINISHED = 3
    INTERRUPTED = 130


_FINISHED_BADLY = frozenset({"Failed", "Terminated", "Canceled"})


def for_runtime_status(status: str) -> ExitCode:
    """How `ask` and `status` exit for a run in this Durable runtime status."""
    if status == "Completed":
        return ExitCode.OK
    if status in _FINISHED_BADLY:
        return ExitCode.FAILED
    return ExitCode.NOT_FINISHED  # Pending, Running, Suspended, ContinuedAsNew
