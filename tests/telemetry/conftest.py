"""In-memory OpenTelemetry for the telemetry tests: spans and metrics the code under test records.

Global providers can be set once per process, so they are installed once (for the session) and
emptied before each test: spans cleared, metrics collected with delta temporality and dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_DELTA = {kind: AggregationTemporality.DELTA for kind in (Counter, Histogram, UpDownCounter)}


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def collect(self) -> dict[str, list[Any]]:
        """Data points by metric name, recorded since the test started or the last `collect` (delta)."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture(scope="session")
def _otel_session() -> Telemetry:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader(preferred_temporality=_DELTA)
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # another suite may have installed one: add to it
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return Telemetry(exporter, reader)


@pytest.fixture
def otel(_otel_session: Telemetry) -> Iterator[Telemetry]:
    _otel_session.exporter.clear()
    _otel_session.reader.get_metrics_data()  # drop what earlier tests recorded (delta temporality)
    yield _otel_session
    _otel_session.exporter.clear()
