"""Fault injection for rehearsing failures: any provider can fail a fraction of calls, or be slow.

Set `PIPELINE_FAULTS` to comma-separated rules `ROLE=KIND:RATE[:DELAY_MS]`, for example
`generation=transient:0.3,retrieval=slow:1:200,events=permanent:1`. ROLE is one of
embeddings, retrieval, generation, events; KIND is transient (retryable), permanent (not
retryable) or slow (waits DELAY_MS, then answers). `PIPELINE_FAULTS_SEED` makes the draws
repeatable. Faults are raised as `ProviderError`s, exactly as a failing service would be.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from providers.errors import ProviderError

__all__ = ["FaultRule", "Faulty", "parse_faults"]

ROLES: tuple[str, ...] = ("embeddings", "retrieval", "generation", "events")
KINDS = ("transient", "permanent", "slow")


@dataclass(frozen=True, slots=True)
class FaultRule:
    kind: str
    rate: float
    delay_ms: float = 0.0


def parse_faults(spec: str) -> dict[str, FaultRule]:
    """Rules by role; a malformed rule is a clear error at start-up, not a silent no-op."""
    rules: dict[str, FaultRule] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, rest = part.partition("=")
        fields = rest.split(":")
        if not sep or role not in ROLES or fields[0] not in KINDS or len(fields) not in (2, 3):
            raise ValueError(
                f"bad PIPELINE_FAULTS rule {part!r}: expected ROLE=KIND:RATE[:DELAY_MS] "
                f"with ROLE in {', '.join(ROLES)} and KIND in {', '.join(KINDS)}"
            )
        try:
            rate = float(fields[1])
            delay = float(fields[2]) if len(fields) == 3 else 0.0
        except ValueError:
            raise ValueError(f"bad PIPELINE_FAULTS rule {part!r}: RATE and DELAY_MS must be numbers") from None
        if not 0.0 <= rate <= 1.0 or delay < 0:
            raise ValueError(f"bad PIPELINE_FAULTS rule {part!r}: RATE must be in 0..1, DELAY_MS >= 0")
        rules[role] = FaultRule(fields[0], rate, delay)
    return rules


class Faulty:
    """Wraps one provider of any role; forwards every attribute, injects faults on the role's calls."""

    _CALLS = frozenset({"embed", "search", "fetch", "answer", "publish"})

    def __init__(self, inner: Any, role: str, rule: FaultRule, *, seed: int | None = None) -> None:
        self._inner = inner
        self._role = role
        self._rule = rule
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = 0  # how many faults were injected (for tests and benchmarks)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._CALLS or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._maybe_fail(name)
            return value(*args, **kwargs)

        return call

    def _maybe_fail(self, operation: str) -> None:
        if operation == "fetch":  # reading passages back by id belongs to the answer step's budget
            return
        with self._lock:
            hit = self._rng.random() < self._rule.rate
            if hit:
                self.injected += 1
        if not hit:
            return
        if self._rule.kind == "slow":
            time.sleep(self._rule.delay_ms / 1000)
            return
        message = f"injected {self._rule.kind} fault in {self._role} ({operation})"
        if self._rule.kind == "transient":
            raise ProviderError.transient(message)
        raise ProviderError.rejected(message)
