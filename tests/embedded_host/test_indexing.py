"""Apps the Python worker refuses to index on Azure (so they run no function there) are refused at start here.

The rules are the worker's (azure_functions_worker/functions.py): each parameter named by a binding, `context`
annotated `func.Context` if at all, annotations that are types, `func.Out[T]` for output bindings only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from embedded_host.functions.config import HostConfigError
from embedded_host.functions.loader import load_app
from tests.processes import ROOT, free_port

HEADER = """
import typing

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp()
"""

# (function source, what the refusal must name)
REFUSED = {
    "unbound parameter": (
        """
        @app.route(route="a")
        def handler(req: func.HttpRequest, tenant: str) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': parameter 'tenant' is named by no binding",
    ),
    "context not func.Context": (
        """
        @app.route(route="a")
        def handler(req: func.HttpRequest, context: dict) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': parameter 'context' must be annotated func.Context",
    ),
    "Out without its type": (
        """
        @app.route(route="a")
        @app.queue_output(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def handler(req: func.HttpRequest, msg: func.Out) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': parameter 'msg' has an invalid Out annotation",
    ),
    "output binding without Out": (
        """
        @app.route(route="a")
        @app.queue_output(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def handler(req: func.HttpRequest, msg: str) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': parameter 'msg' is an output binding, so it must be annotated func.Out",
    ),
    "non-type annotation": (
        """
        @app.route(route="a")
        def handler(req: typing.Optional[func.HttpRequest]) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': parameter 'req' has the annotation",
    ),
    "binding with no parameter": (
        """
        @app.route(route="a")
        @app.queue_output(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "function 'handler': binding 'msg' names no parameter",
    ),
}


def _app(tmp_path: Path, source: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    fine = """
        @app.activity_trigger(input_name="value")
        def fine(value: int) -> int:
            return value
        """
    (app / "function_app.py").write_text(HEADER + textwrap.dedent(fine) + textwrap.dedent(source))
    return app


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_app_the_worker_would_not_index_is_refused_naming_function_and_parameter(case: str, tmp_path: Path) -> None:
    source, named = REFUSED[case]
    with pytest.raises(HostConfigError) as refused:
        load_app(_app(tmp_path, source))
    message = str(refused.value)
    assert message.startswith(named), message
    assert "\n" not in message and "none of its functions would run" in message


def test_context_unannotated_or_func_context_and_out_of_a_type_are_indexed(tmp_path: Path) -> None:
    source = """
        @app.route(route="a")
        @app.queue_output(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def handler(req: func.HttpRequest, msg: func.Out[str], context: func.Context) -> func.HttpResponse:
            return func.HttpResponse("ok")

        @app.route(route="b")
        def other(req, context) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """
    assert {"handler", "other", "fine"} <= set(load_app(_app(tmp_path, source)).functions)


def test_serve_refuses_it_at_start_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    app = _app(tmp_path, REFUSED["unbound parameter"][0])
    env = {**os.environ, "PIPELINE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--app", str(app), "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "function 'handler': parameter 'tenant' is named by no binding" in lines[0]
