"""The azd `postdeploy` hook: wired in azure.yaml for both shells, skippable, and it indexes, asks and reports.

scripts/postdeploy.py runs here against stand-ins: a fake `pipeline index` (a callable returning a
CompletedProcess) and the app and Azure Resource Manager answered by `httpx.MockTransport`, with a
fake clock, so waiting for role assignments and a warming app is tested without waiting.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from providers.azure.errors import _from_status

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
KEY = "s3cret-function-key"
ENV = {
    "AZURE_SUBSCRIPTION_ID": "sub",
    "AZURE_RESOURCE_GROUP": "rg-dev",
    "AZURE_FUNCTION_APP_NAME": "func-abc",
    "AZURE_FUNCTION_APP_URL": "https://func-abc.azurewebsites.net/",
    "AZURE_SEARCH_ENDPOINT": "https://srch-abc.search.windows.net",
    "AZURE_SEARCH_INDEX": "documents",
    "AZURE_OPENAI_ENDPOINT": "https://oai-abc.openai.azure.com/",
    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embedding",
}


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("postdeploy_hook", SCRIPTS / "postdeploy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


# -- wiring ---------------------------------------------------------------------------------------


def test_azure_yaml_runs_the_hook_after_deploy_on_both_shells() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    config = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    hook = config["hooks"]["postdeploy"]
    assert hook["posix"] == {
        "shell": "sh",
        "run": "scripts/postdeploy.sh",
        "interactive": True,  # azd shows a hook's output only when it is interactive
        "continueOnError": False,  # a pipeline that cannot answer fails `azd up`, loudly
    }
    assert hook["windows"] == {**hook["posix"], "shell": "pwsh", "run": "scripts/postdeploy.ps1"}
    assert os.access(ROOT / hook["posix"]["run"], os.X_OK)
    assert (ROOT / hook["windows"]["run"]).exists()


def test_the_shell_wrappers_agree() -> None:
    subprocess.run(["sh", "-n", str(SCRIPTS / "postdeploy.sh")], check=True)
    for name in ("postdeploy.sh", "postdeploy.ps1"):
        text = (SCRIPTS / name).read_text(encoding="utf-8")
        assert "PIPELINE_SKIP_POSTDEPLOY" in text, name
        assert "scripts/postdeploy.py" in text, name
        assert "'.[azure]'" in text, name  # `pipeline index` on Azure needs the azure extra


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_the_posix_hook_can_be_skipped(value: str) -> None:
    env = {"PATH": os.environ["PATH"], "PIPELINE_SKIP_POSTDEPLOY": value, "VENV": "/nonexistent/venv"}
    done = subprocess.run(["sh", str(SCRIPTS / "postdeploy.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "postdeploy: skipped" in done.stdout


@pytest.mark.skipif(not (ROOT / ".venv/bin/pipeline").exists(), reason="needs the repository's .venv")
def test_the_posix_hook_runs_the_python_hook_from_a_fresh_shell() -> None:
    # Nothing activated and no azd environment: the wrapper finds .venv and the hook says what is missing.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run(["sh", str(SCRIPTS / "postdeploy.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "postdeploy: error: AZURE_SUBSCRIPTION_ID" in done.stderr
    assert "installing" not in done.stdout  # the venv already had the azure extra


def test_without_azds_environment_it_says_how_to_load_it() -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "postdeploy.py")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.startswith("postdeploy: error: AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP")
    assert "azd hooks run postdeploy" in done.stderr
    assert "Traceback" not in done.stderr


def test_skipped_in_python_too(hook: ModuleType) -> None:
    out = io.StringIO()
    assert hook.main({"PIPELINE_SKIP_POSTDEPLOY": "true"}, out=out) == 0
    assert "skipped" in out.getvalue()


# -- step 1: index ----------------------------------------------------------------------------------


def _done(code: int, stderr: str = "", stdout: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["pipeline", "index"], code, stdout, stderr)


def test_the_access_denied_pattern_matches_what_pipeline_index_prints(hook: ModuleType) -> None:
    for status in (401, 403):
        message = _from_status(status, None, "azure ai search", "Forbidden").message
        assert hook.ACCESS_DENIED.search(f"pipeline: error: {message}"), message
    assert not hook.ACCESS_DENIED.search("pipeline: error: no such file or directory: corpus")


def test_index_waits_for_role_assignments(hook: ModuleType) -> None:
    denied = "pipeline: error: azure ai search: HTTP 403: Forbidden. new role assignments take minutes to apply."
    answers = [_done(1, denied), _done(1, denied), _done(0, stdout="indexed 11 file(s)\n")]
    clock, out = FakeClock(), io.StringIO()
    hook.index_corpus(lambda: answers.pop(0), timeout_s=600, sleep=clock.sleep, clock=clock, out=out)
    assert not answers
    assert out.getvalue().count("waiting for role assignments") == 2
    assert "indexed 11 file(s)" in out.getvalue()


def test_index_gives_up_after_the_timeout_naming_the_roles(hook: ModuleType) -> None:
    clock = FakeClock()
    with pytest.raises(hook.HookError, match="Search Index Data Contributor"):
        hook.index_corpus(
            lambda: _done(1, "pipeline: error: HTTP 401"),
            timeout_s=60,
            sleep=clock.sleep,
            clock=clock,
            out=io.StringIO(),
        )
    assert 60 <= clock.now < 80


def test_index_stops_at_once_on_another_failure(hook: ModuleType) -> None:
    calls = []

    def run() -> subprocess.CompletedProcess[str]:
        calls.append(1)
        return _done(1, "pipeline: error: the index holds 384-dimensional vectors, the embedder makes 1536")

    with pytest.raises(hook.HookError, match="384-dimensional"):
        hook.index_corpus(run, timeout_s=600, sleep=pytest.fail, out=io.StringIO())
    assert calls == [1]


# -- steps 2-4: key, question, answer ----------------------------------------------------------------


class FakeAzure:
    """Azure Resource Manager's listKeys and the app's two routes, with a warm-up and a run that takes a while."""

    def __init__(self, *, warmup: list[int], statuses: list[dict]) -> None:
        self.warmup = warmup
        self.statuses = statuses
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "management.azure.com":
            assert path.endswith("/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-abc/host/default/listKeys")
            assert request.headers["Authorization"] == "Bearer arm-token"
            return httpx.Response(200, json={"masterKey": "m", "functionKeys": {"default": KEY}})
        assert request.url.params["code"] == KEY
        if path == "/api/pipeline/start":
            if self.warmup:
                return httpx.Response(self.warmup.pop(0), text="warming")
            body = json.loads(request.content)
            assert body["request_id"].startswith("azd-postdeploy-")
            return httpx.Response(202, json={"instance_id": body["request_id"], "status_url": "ignored"})
        assert path.startswith("/api/pipeline/azd-postdeploy-")
        return httpx.Response(200, json=self.statuses.pop(0))


def _completed(instance_id: str = "azd-postdeploy-1") -> dict:
    return {
        "instance_id": instance_id,
        "runtime_status": "Completed",
        "step": "publish_result",
        "result": {
            "answer": "Each step retries with its own policy [1].",
            "citations": [{"title": "Retries and failures", "source": "corpus/retries-and-failures.md"}],
        },
    }


def test_asks_once_the_app_is_up_and_prints_the_answer(hook: ModuleType) -> None:
    azure = FakeAzure(
        warmup=[404, 503],
        statuses=[
            {"runtime_status": "Pending"},
            {"runtime_status": "Running", "step": "generate_answer"},
            _completed(),
        ],
    )
    clock, out = FakeClock(), io.StringIO()
    target = hook.load_target(ENV)
    with httpx.Client(transport=httpx.MockTransport(azure)) as client:
        key = hook.function_key(client, "arm-token", target)
        status = hook.ask(
            client,
            target,
            key,
            "How?",
            request_id="azd-postdeploy-1",
            timeout_s=600,
            sleep=clock.sleep,
            clock=clock,
            out=out,
        )
    hook.report(status, out)
    printed = out.getvalue()
    assert printed.count("waiting for the app to start") == 2
    assert "Each step retries with its own policy [1]." in printed
    assert "[1] Retries and failures (corpus/retries-and-failures.md)" in printed
    assert KEY not in printed
    assert all(r.url.host in ("management.azure.com", "func-abc.azurewebsites.net") for r in azure.requests)


def test_a_failed_run_fails_the_hook_with_its_error(hook: ModuleType) -> None:
    failed = {"instance_id": "x", "runtime_status": "Failed", "step": "search_documents", "error": "index not found"}
    with pytest.raises(hook.HookError, match="x Failed at search_documents: index not found"):
        hook.report(failed, io.StringIO())


def test_a_bad_request_is_not_retried(hook: ModuleType) -> None:
    client = httpx.Client(transport=httpx.MockTransport(FakeAzure(warmup=[400], statuses=[])))
    with client, pytest.raises(hook.HookError, match="answered 400"):
        hook.ask(client, hook.load_target(ENV), KEY, "?", request_id="r", timeout_s=600, sleep=pytest.fail)


def test_an_app_that_never_answers_times_out(hook: ModuleType) -> None:
    clock = FakeClock()
    client = httpx.Client(transport=httpx.MockTransport(FakeAzure(warmup=[503] * 1000, statuses=[])))
    with client, pytest.raises(hook.HookError, match="did not take the question within 30 s"):
        hook.ask(
            client, hook.load_target(ENV), KEY, "?", request_id="r", timeout_s=30, sleep=clock.sleep, clock=clock,
            out=io.StringIO(),
        )  # fmt: skip


def test_no_key_access_says_which_role(hook: ModuleType) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(403)))
    with client, pytest.raises(hook.HookError, match="Contributor"):
        hook.function_key(client, "arm-token", hook.load_target(ENV))


def test_errors_never_show_the_key(hook: ModuleType) -> None:
    assert KEY not in hook._without_query(f"Server error for url 'https://x/api/pipeline/start?code={KEY}'")
