"""Durable HTTP: token sources are refused before anything runs; the request itself against a loopback API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import azure.durable_functions as df
import pytest

from embedded_host import EmbeddedHost, HostConfigError
from embedded_host.durable.durable_http import DurableHttpError, perform, token_source_users

APP_WITH_TOKEN = """
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def arm_lister(context):
    source = df.ManagedIdentityTokenSource("https://management.core.windows.net/")
    return (yield context.call_http("GET", "https://management.azure.com/subscriptions", token_source=source))


@app.orchestration_trigger(context_name="context")
def plain(context):
    return (yield context.call_http("GET", "http://127.0.0.1:9/", None, {"Authorization": "Bearer x"}))
"""


def test_an_orchestrator_with_a_token_source_is_refused_at_start_up(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(APP_WITH_TOKEN)
    (app_dir / "host.json").write_text('{"version": "2.0"}')

    async def main() -> None:
        async with EmbeddedHost(app_dir, tmp_path / "data"):
            pass

    with pytest.raises(HostConfigError, match="orchestrator arm_lister: call_http with a managed-identity"):
        asyncio.run(main())


def test_token_source_users_reads_the_users_function() -> None:
    app = df.DFApp()

    @app.orchestration_trigger(context_name="context")
    def positional(context):
        yield context.call_http("GET", "https://x", None, None, object())

    @app.orchestration_trigger(context_name="context")
    def explicit_none(context):
        yield context.call_http("GET", "https://x", token_source=None)

    functions = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
    assert token_source_users(functions.items()) == ["positional"]


def test_a_request_that_still_carries_a_token_source_fails_clearly() -> None:
    request = {
        "method": "GET",
        "uri": "https://management.azure.com/",
        "tokenSource": {"resource": "https://management.core.windows.net/", "kind": "AzureManagedIdentity"},
    }
    with pytest.raises(DurableHttpError, match="no managed identity locally"):
        asyncio.run(perform(json.dumps(request)))


def test_connection_failure_is_the_tasks_failure() -> None:
    with pytest.raises(DurableHttpError, match="failed"):
        asyncio.run(perform(json.dumps({"method": "GET", "uri": "http://127.0.0.1:9/"})))
