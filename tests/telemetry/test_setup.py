"""`configure_telemetry`: what it installs for which settings, once per process, logs never twice.

What touches the process-global providers runs in a child process; the Azure Monitor path is
checked in-process against a stand-in for the distro's `configure_azure_monitor`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest

from config import get_settings
from telemetry import setup

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, logging
from opentelemetry import trace
from telemetry import configure_telemetry
first = configure_telemetry()
second = configure_telemetry()
provider = trace.get_tracer_provider()
resource = getattr(provider, "resource", None)
handlers = [type(h).__name__ for h in logging.getLogger().handlers]
print(json.dumps({
    "first": first, "second": second, "provider": type(provider).__name__,
    "service": resource.attributes.get("service.name") if resource else None,
    "otel_log_handlers": handlers.count("LoggingHandler"),
}))
"""


def _probe(env: dict[str, str]) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "FUNCTIONS_"))}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_is_installed_without_an_exporter_setting() -> None:
    found = _probe({})
    assert found == {
        "first": "none",
        "second": "none",
        "provider": "ProxyTracerProvider",
        "service": None,
        "otel_log_handlers": 0,
    }


def test_otlp_is_installed_once_with_the_default_service_name() -> None:
    found = _probe({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_BSP_SCHEDULE_DELAY": "60000"})
    assert found == {
        "first": "otlp",
        "second": "otlp",
        "provider": "TracerProvider",
        "service": "durable-ai-pipeline",
        "otel_log_handlers": 1,
    }


def test_otel_service_name_wins_and_functions_keep_their_own_log_pipeline() -> None:
    found = _probe(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_SERVICE_NAME": "qa-staging",
            "FUNCTIONS_WORKER_RUNTIME": "python",
        }
    )
    assert (found["first"], found["service"], found["otel_log_handlers"]) == ("otlp", "qa-staging", 0)


# What the Functions platform sets for its worker; Flex Consumption may omit the first.
FUNCTIONS_MARKERS = ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "AzureWebJobsScriptRoot"]


@pytest.fixture
def fake_distro(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for `azure.monitor.opentelemetry`, recording how it is called."""
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("azure.monitor.opentelemetry")
    module.configure_azure_monitor = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", module)
    monkeypatch.setattr(setup, "_configured", None)
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=" + str(uuid.UUID(int=0)))
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    for name in FUNCTIONS_MARKERS:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield calls
    setup._configured = None
    get_settings.cache_clear()


def test_azure_monitor_is_configured_once_from_the_connection_string(fake_distro: list[dict[str, Any]]) -> None:
    assert setup.configure_telemetry() == "azure-monitor"
    assert setup.configure_telemetry() == "azure-monitor"

    (options,) = fake_distro
    assert options["connection_string"].startswith("InstrumentationKey=")
    assert options["resource"].attributes["service.name"] == "durable-ai-pipeline"
    assert options["disable_logging"] is False
    assert "span_processors" not in options


@pytest.mark.parametrize(
    "marker", ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "AzureWebJobsScriptRoot"]
)
def test_on_azure_functions_the_host_alone_exports_logs(
    fake_distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    # Flex Consumption may not set FUNCTIONS_WORKER_RUNTIME: any of the platform's markers counts.
    monkeypatch.setenv(marker, "~4")
    setup.configure_telemetry()
    assert fake_distro[0]["disable_logging"] is True


def test_the_distro_samples_whole_traces_unless_a_sampler_is_chosen(
    fake_distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.configure_telemetry()
    assert fake_distro[0]["sampling_ratio"] == 1.0
    setup._configured = None
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "microsoft.fixed_percentage")
    get_settings.cache_clear()  # settings are read once per process, like the exporters
    setup.configure_telemetry()
    assert "sampling_ratio" not in fake_distro[1]  # the user's choice stands


def test_azure_monitor_and_otlp_together(fake_distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    assert setup.configure_telemetry() == "azure-monitor+otlp"
    (options,) = fake_distro
    assert len(options["span_processors"]) == 1 and len(options["metric_readers"]) == 1
    options["span_processors"][0].shutdown()
    options["metric_readers"][0].shutdown()
