"""Durable AI Pipeline: the Azure Functions app. It only composes the blueprints."""

import azure.durable_functions as df

from activities import embed_query, generate_answer, publish_result, search_documents
from orchestration import orchestrator
from triggers import http_start, openapi, queue_start, status

app = df.DFApp()

for module in (
    http_start,
    queue_start,
    status,
    openapi,
    orchestrator,
    embed_query,
    search_documents,
    generate_answer,
    publish_result,
):
    app.register_functions(module.bp)
