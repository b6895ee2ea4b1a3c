"""Durable AI Pipeline: the Azure Functions app. It only composes the blueprints."""

import azure.durable_functions as df

from activities import embed_query, generate_answer, publish_result, search_documents
from orchestration import orchestrator
from telemetry import configure_telemetry
from triggers import http_start, monitor_feeds, openapi, queue_start, status

configure_telemetry()  # exporters from settings, once per process; a no-op when none is configured
app = df.DFApp()

for module in (
    http_start,
    queue_start,
    status,
    monitor_feeds,
    openapi,
    orchestrator,
    embed_query,
    search_documents,
    generate_answer,
    publish_result,
):
    app.register_functions(module.bp)
