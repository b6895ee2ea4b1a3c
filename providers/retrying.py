"""The retry rules of the providers' own loops (the orchestrator keeps its durable-timer loop).

`Backoff` is the one exponential backoff outside the orchestrator (webhook deliveries, index
uploads); `retry_after_seconds` reads the wait a service asked for from its response headers.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Backoff", "retry_after_seconds"]

# Milliseconds headers first: they are more precise than Retry-After when a service sends both.
_MS_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: `initial_s`, doubling (`multiplier`) up to `max_s`.

    The jitter takes up to `jitter` of each delay off at random, so many rows failing together
    (a webhook restarting) do not all come back in the same instant.
    """

    initial_s: float = 0.5
    max_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after the `attempt`-th failed attempt (1-based)."""
        exponent = max(0, attempt - 1)
        base = min(self.max_s, self.initial_s * self.multiplier ** min(exponent, 64))
        return base * (1.0 - self.jitter * (rng or random).random())


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The wait a service asked for, from `retry-after-ms` or `Retry-After` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in _MS_HEADERS:
        value = lowered.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
