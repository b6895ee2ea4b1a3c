"""Fault injection: rules parse strictly, and injected faults look exactly like failing services."""

from __future__ import annotations

import time

import pytest

from contracts import ErrorKind
from providers.base import Embeddings
from providers.errors import ProviderError
from providers.faults import FaultRule, Faulty, parse_faults


class Echo:
    model = "echo"
    dimensions = 2

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> Embeddings:
        self.calls += 1
        return Embeddings(vectors=[[1.0, 0.0] for _ in texts], model=self.model)

    def fetch(self, ids: list[str]) -> list[str]:
        return list(ids)


def test_rules_parse_per_role() -> None:
    rules = parse_faults("generation=transient:0.3, retrieval=slow:1:200,events=permanent:1")
    assert rules == {
        "generation": FaultRule("transient", 0.3),
        "retrieval": FaultRule("slow", 1.0, 200.0),
        "events": FaultRule("permanent", 1.0),
    }


@pytest.mark.parametrize(
    "spec",
    [
        "generation",
        "llm=transient:0.1",
        "generation=flaky:0.1",
        "events=transient:2",
        "events=transient:x",
        "events=slow:1:-5",
        "events=transient:0.1:1:2",
    ],
)
def test_malformed_rules_are_refused_with_a_clear_message(spec: str) -> None:
    with pytest.raises(ValueError, match="PIPELINE_FAULTS"):
        parse_faults(spec)


@pytest.mark.parametrize(("kind", "expected"), [("transient", ErrorKind.TRANSIENT), ("permanent", ErrorKind.REJECTED)])
def test_failures_are_provider_errors_of_the_right_kind(kind: str, expected: ErrorKind) -> None:
    inner = Echo()
    faulty = Faulty(inner, "embeddings", FaultRule(kind, 1.0))
    with pytest.raises(ProviderError) as caught:
        faulty.embed(["q"])
    assert caught.value.kind is expected and inner.calls == 0 and faulty.injected == 1
    assert faulty.model == "echo" and faulty.fetch(["a"]) == ["a"]  # other calls pass through


def test_rate_is_a_fraction_of_calls_and_repeatable_with_a_seed() -> None:
    def failures(seed: int) -> list[bool]:
        faulty = Faulty(Echo(), "embeddings", FaultRule("transient", 0.3), seed=seed)
        out = []
        for _ in range(1000):
            try:
                faulty.embed(["q"])
                out.append(False)
            except ProviderError:
                out.append(True)
        return out

    first = failures(1)
    assert first == failures(1)
    assert 250 <= sum(first) <= 350


def test_slow_rule_delays_then_answers() -> None:
    faulty = Faulty(Echo(), "embeddings", FaultRule("slow", 1.0, 50))
    began = time.perf_counter()
    assert faulty.embed(["q"]).model == "echo"
    assert time.perf_counter() - began >= 0.045
