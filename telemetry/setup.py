"""Install the OpenTelemetry SDK and exporters once per process, from settings and `OTEL_*` variables.

- `APPLICATIONINSIGHTS_CONNECTION_STRING` set: the Azure Monitor distro (`configure_azure_monitor`),
  which exports traces, metrics and logs to Application Insights.
- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set: OTLP over HTTP/protobuf.
  The exporters read the standard variables themselves (endpoint, headers, timeout, compression,
  temporality), as do the SDK's batch processor, metric reader and sampler; `OTEL_SERVICE_NAME` and
  `OTEL_RESOURCE_ATTRIBUTES` name the service (default `durable-ai-pipeline`);
  `OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none` turns one signal off and `OTEL_SDK_DISABLED=true` all.
- Both set: Application Insights, plus OTLP span and metric export beside it.
- Neither: nothing is installed and the OpenTelemetry API stays a no-op.

Logs, without duplicates: on Azure Functions the host already ships every log record of the Python
worker to Application Insights (`traces`), so a second OpenTelemetry logging handler would send each
record twice: there logs are left to the host (`disable_logging=True` for the distro, no OTLP log
handler). Elsewhere (`pipeline serve`/`ask`) one OpenTelemetry `LoggingHandler` goes on the root
logger, and never a second one: not if one is there already, nor on a repeated call.

"On Azure Functions" is told by any of the variables the platform sets (`Settings.on_azure_functions`):
`FUNCTIONS_WORKER_RUNTIME` alone is not enough, as Flex Consumption may not set it.

Sampling, for Application Insights: the distro's default sampler (rate-limited, 5 spans a second)
decides afresh for every span whose parent is remote, from a rate estimate that falls as spans come
in. Each step span continues the run's trace from a `traceparent` string (activities run on other
threads or machines), so its parent is always remote: within one run the estimate fell from 50 % to
10 % and the later steps were dropped while the first ones were kept. Unless `OTEL_TRACES_SAMPLER`
chooses a sampler, the distro gets `sampling_ratio=1.0` instead: its trace-id ratio sampler, which
decides from the trace id alone, so every span of a run, in every process, gets the same answer.
To keep a share of runs, whole: `OTEL_TRACES_SAMPLER=microsoft.fixed_percentage` and
`OTEL_TRACES_SAMPLER_ARG=0.25`.

The `OTEL_*` variables that decide what is installed here are read through `config` like every other
setting; the SDK and the exporters read the rest themselves. SDK and exporter modules are imported only
when they are used, so the default install needs neither.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from config import get_settings

__all__ = ["DEFAULT_SERVICE_NAME", "configure_telemetry"]

DEFAULT_SERVICE_NAME = "durable-ai-pipeline"
AZURE_MONITOR = "azure-monitor"
OTLP = "otlp"
NONE = "none"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured: str | None = None  # what this process installed; set once, by the first call


def configure_telemetry() -> str:
    """Install exporters as settings ask, once per process; returns what was installed.

    The result is `"azure-monitor"`, `"otlp"`, `"azure-monitor+otlp"` or `"none"`; later calls return
    the first call's result without touching anything, so every entry point may call it.
    """
    global _configured
    with _lock:
        if _configured is None:
            _configured = _install()
        return _configured


def _install() -> str:
    settings = get_settings()
    if settings.otel_sdk_disabled.strip().lower() in ("1", "true", "yes"):
        return NONE
    connection_string = settings.applicationinsights_connection_string
    otlp = bool(settings.otel_exporter_otlp_endpoint or settings.otel_exporter_otlp_traces_endpoint)
    if connection_string and _install_azure_monitor(connection_string, with_otlp=otlp):
        return f"{AZURE_MONITOR}+{OTLP}" if otlp else AZURE_MONITOR
    if otlp:
        _install_otlp()
        return OTLP
    return NONE


# The distro's own samplers that decide from the trace id alone, so a run stays whole.
_TRACE_CONSISTENT_SAMPLERS = (
    "microsoft.fixed_percentage",
    "microsoft.fixed.percentage",
    "always_on",
    "always_off",
    "trace_id_ratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_trace_id_ratio",
)


def _sampling_options() -> dict[str, Any]:
    """Keep runs whole in Application Insights: see "Sampling" in the module docstring."""
    chosen = get_settings().otel_traces_sampler.strip()
    if not chosen:
        return {"sampling_ratio": 1.0}
    if chosen not in _TRACE_CONSISTENT_SAMPLERS:
        log.warning(
            "OTEL_TRACES_SAMPLER=%s decides span by span for the pipeline's steps (their parents are remote): "
            "a run can reach Application Insights with steps missing; microsoft.fixed_percentage keeps runs whole",
            chosen,
        )
    return {}


def _resource() -> Any:
    """The SDK resource; `service.name` defaults to ours unless `OTEL_SERVICE_NAME`/attributes name one."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    settings = get_settings()
    named = settings.otel_service_name or "service.name=" in settings.otel_resource_attributes
    return Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME})


def _install_azure_monitor(connection_string: str, *, with_otlp: bool) -> bool:
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
    except ImportError:
        log.warning(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set but azure-monitor-opentelemetry is not installed "
            "(pip install 'durable-ai-pipeline[azure]'); Application Insights export is off"
        )
        return False
    options: dict[str, Any] = {
        "connection_string": connection_string,
        "resource": _resource(),
        # See the module docstring: the Functions host already exports the worker's log records.
        "disable_logging": get_settings().on_azure_functions,
        **_sampling_options(),
    }
    if with_otlp and get_settings().otlp_enabled("traces"):
        options["span_processors"] = [_otlp_span_processor()]
    if with_otlp and get_settings().otlp_enabled("metrics"):
        options["metric_readers"] = [_otlp_metric_reader()]
    configure_azure_monitor(**options)
    return True


def _otlp_span_processor() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter())


def _otlp_metric_reader() -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return PeriodicExportingMetricReader(OTLPMetricExporter())


def _install_otlp() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    settings, resource = get_settings(), _resource()
    if settings.otlp_enabled("traces"):
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(_otlp_span_processor())
        trace.set_tracer_provider(tracer_provider)
    if settings.otlp_enabled("metrics"):
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[_otlp_metric_reader()]))
    if settings.otlp_enabled("logs") and not settings.on_azure_functions:
        _install_otlp_logs(resource)


def _install_otlp_logs(resource: Any) -> None:
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    root = logging.getLogger()
    if any(_is_otel_handler(handler) for handler in root.handlers):
        return
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    set_logger_provider(logger_provider)
    root.addHandler(LoggingHandler(logger_provider=logger_provider))


def _is_otel_handler(handler: logging.Handler) -> bool:
    """An OpenTelemetry logging handler, whichever package it comes from (SDK, instrumentation, distro)."""
    cls = type(handler)
    return cls.__name__ == "LoggingHandler" and cls.__module__.startswith("opentelemetry")
