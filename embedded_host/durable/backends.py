"""Which Durable storage backend the host emulates, and what that changes for the SDK.

The app chooses its backend the way it does on Azure: host.json's ``extensions.durableTask.storageProvider.type``,
overridden by the app setting ``AzureFunctionsJobHost__extensions__durableTask__storageProvider__type`` (this
app's infrastructure sets it to ``azureManaged`` for the Durable Task Scheduler). No type means Azure Storage.

What differs for an orchestrator: in every invocation the extension tells the Python SDK the longest timer its
backend can hold (``maximumShortTimerDuration``) and the step a longer one is chained in
(``longRunningTimerIntervalDuration``). Azure Storage holds 6 days and chains in 3-day steps
(``AzureStorageDurabilityProvider``: ``MaximumDelayTime``, ``LongRunningTimerIntervalLength``), so a 10-day
timer is three timers in history (+3 d, +6 d, +10 d); the Durable Task Scheduler and the other providers set
no limit and the SDK schedules one timer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = [
    "AZURE_STORAGE",
    "DURABLE_TASK_SCHEDULER",
    "PROVIDER_TYPE_SETTING",
    "TimerLimits",
    "storage_provider",
    "timer_limits",
]

AZURE_STORAGE = "AzureStorage"
DURABLE_TASK_SCHEDULER = "azureManaged"
PROVIDER_TYPE_SETTING = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type"


@dataclass(frozen=True)
class TimerLimits:
    """The long-timer settings the extension hands the SDK."""

    maximum_short: timedelta
    interval: timedelta

    def context_fields(self) -> dict[str, str]:
        """The orchestrator context's fields, as .NET writes a TimeSpan (``d.hh:mm:ss``)."""
        return {
            "maximumShortTimerDuration": _timespan(self.maximum_short),
            "longRunningTimerIntervalDuration": _timespan(self.interval),
        }


_AZURE_STORAGE_TIMERS = TimerLimits(maximum_short=timedelta(days=6), interval=timedelta(days=3))


def storage_provider(host_json: Mapping[str, Any], settings: Mapping[str, str]) -> str:
    """The storage provider type the Functions host would configure (an app setting overrides host.json)."""
    if settings.get(PROVIDER_TYPE_SETTING, "").strip():
        return settings[PROVIDER_TYPE_SETTING].strip()
    extensions = host_json.get("extensions") or {}
    durable = extensions.get("durableTask") or {}
    provider = durable.get("storageProvider") or {}
    return str(provider.get("type") or AZURE_STORAGE).strip()


def timer_limits(provider: str) -> TimerLimits | None:
    """Azure Storage's limits, or None for a backend that sends none (the SDK then makes one timer)."""
    return _AZURE_STORAGE_TIMERS if provider.lower() == AZURE_STORAGE.lower() else None


def _timespan(span: timedelta) -> str:
    hours, rest = divmod(int(span.total_seconds()) - span.days * 86400, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{span.days}.{clock}" if span.days else clock
