"""The azd `postdeploy` hook: load the sample corpus into Azure AI Search, then ask the deployed app one question.

So `azd up` (and every `azd deploy`) ends with a pipeline that has answered, or with one line that says
what to check. azd runs it through scripts/postdeploy.sh (or .ps1 on Windows), which make sure the
repository's `.venv` exists with the `azure` extra; azd puts its environment (the Bicep outputs) into a
hook's environment. By hand: `azd hooks run postdeploy`, or `eval "$(azd env get-values)"` and then
`.venv/bin/python scripts/postdeploy.py`.

1. `pipeline index corpus/` with the identity of the person who ran azd (the same command the README
   gives), retried while Azure answers 401/403: right after `azd provision` the role assignments it
   made take minutes to apply.
2. The app's default function key, read from Azure Resource Manager with that identity (`listKeys` on
   the Function App's host). It is used for the two calls below and never printed.
3. `POST /api/pipeline/start`, retried while the newly deployed app warms up (no answer, 404 before its
   functions are indexed, 401 before the key reaches every instance, 5xx).
4. `GET /api/pipeline/{id}` until the run has finished; the answer and its citations are printed.

Settings (environment): PIPELINE_SKIP_POSTDEPLOY=true skips it all; PIPELINE_POSTDEPLOY_QUESTION
replaces the question; PIPELINE_POSTDEPLOY_TIMEOUT_S bounds each step (default 600 seconds).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

__all__ = ["HookError", "Target", "ask", "function_key", "index_corpus", "is_skipped", "load_target", "main"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTION = "How does the pipeline retry a failed step?"
DEFAULT_TIMEOUT_S = 600.0
ARM = "https://management.azure.com"
WEB_API_VERSION = "2023-12-01"
# What `pipeline index` prints when Azure refuses the identity (providers/azure/errors.py): worth
# waiting for, since new role assignments take minutes to apply. Any other failure stops at once.
ACCESS_DENIED = re.compile(r"HTTP 40[13]\b|role assignments take minutes", re.IGNORECASE)
# Answers of a freshly deployed app that is not ready yet.
WARMING_UP = {401, 404, 408, 429, 500, 502, 503, 504}
FINISHED = {"Completed", "Failed", "Terminated", "Canceled"}
NEEDED = (
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
    "AZURE_FUNCTION_APP_NAME",
    "AZURE_FUNCTION_APP_URL",
    "AZURE_SEARCH_ENDPOINT",
    "AZURE_SEARCH_INDEX",
    # Without them `pipeline index` would embed with the local model, whose vectors the app cannot query.
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT",
)
SKIP = "PIPELINE_SKIP_POSTDEPLOY"


class HookError(Exception):
    """The hook cannot go on; the message says what to check."""


@dataclass(frozen=True)
class Target:
    subscription_id: str
    resource_group: str
    app_name: str
    app_url: str


def is_skipped(env: Mapping[str, str]) -> bool:
    return env.get(SKIP, "").strip().lower() in ("1", "true", "yes")


def load_target(env: Mapping[str, str]) -> Target:
    missing = [name for name in NEEDED if not env.get(name)]
    if missing:
        raise HookError(
            f"{', '.join(missing)} not set: run this as azd's hook (`azd hooks run postdeploy`), or load the "
            'environment first with `eval "$(azd env get-values)"`'
        )
    return Target(
        env["AZURE_SUBSCRIPTION_ID"], env["AZURE_RESOURCE_GROUP"], env["AZURE_FUNCTION_APP_NAME"],
        env["AZURE_FUNCTION_APP_URL"].rstrip("/"),
    )  # fmt: skip


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def left(self) -> float:
        return self._end - self._clock()


def index_corpus(
    run: Callable[[], subprocess.CompletedProcess[str]],
    *,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: TextIO = sys.stdout,
) -> None:
    """Run `pipeline index` until it succeeds, waiting out role assignments that have not applied yet."""
    deadline = Deadline(timeout_s, clock)
    while True:
        done = run()
        if done.returncode == 0:
            out.write(done.stdout)
            return
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        if not ACCESS_DENIED.search(why):
            raise HookError(f"`pipeline index corpus/` failed: {why}")
        if deadline.left() <= 0:
            raise HookError(
                f"`pipeline index corpus/` was still refused after {timeout_s:.0f} s: {why} Check that you "
                "(AZURE_PRINCIPAL_ID) have Search Index Data Contributor and Search Service Contributor on the "
                "search service and Cognitive Services OpenAI User on the Azure OpenAI account "
                "(infra/modules/developer-roles.bicep)"
            )
        out.write(f"waiting for role assignments to apply ({why})\n")
        sleep(min(15.0, max(deadline.left(), 0.0)))


def function_key(client: httpx.Client, token: str, target: Target) -> str:
    """The app's default function key, from Azure Resource Manager."""
    url = (
        f"{ARM}/subscriptions/{target.subscription_id}/resourceGroups/{target.resource_group}"
        f"/providers/Microsoft.Web/sites/{target.app_name}/host/default/listKeys?api-version={WEB_API_VERSION}"
    )
    response = client.post(url, headers={"Authorization": f"Bearer {token}"})
    if response.status_code in (401, 403):
        raise HookError(
            f"Azure Resource Manager refused to list the keys of {target.app_name} (HTTP {response.status_code}): "
            "reading them needs Contributor (or Website Contributor) on the Function App"
        )
    response.raise_for_status()
    key = (response.json().get("functionKeys") or {}).get("default")
    if not key:
        raise HookError(f"{target.app_name} has no default function key yet (its host has not started)")
    return str(key)


def ask(
    client: httpx.Client,
    target: Target,
    key: str,
    question: str,
    *,
    request_id: str,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Start one run and wait for it; returns the finished status. The key travels as `code=`, never printed."""
    deadline = Deadline(timeout_s, clock)
    params = {"code": key}
    start = f"{target.app_url}/api/pipeline/start"
    body = {"question": question, "request_id": request_id}
    while True:
        why = ""
        try:
            response = client.post(start, params=params, json=body)
        except httpx.TransportError as error:
            why = f"{type(error).__name__}"
        else:
            if response.status_code in (200, 202):
                break
            if response.status_code not in WARMING_UP:
                raise HookError(
                    f"POST /api/pipeline/start answered {response.status_code}: {_without_query(response.text[:300])}"
                )
            why = f"HTTP {response.status_code}"
        if deadline.left() <= 0:
            raise HookError(f"the app at {target.app_url} did not take the question within {timeout_s:.0f} s ({why})")
        out.write(f"waiting for the app to start ({why})\n")
        sleep(min(10.0, max(deadline.left(), 0.0)))
    instance_id = response.json()["instance_id"]
    out.write(f"asked {question!r}: run {instance_id}\n")
    status_url = f"{target.app_url}/api/pipeline/{instance_id}"
    while True:
        try:
            response = client.get(status_url, params=params)
            status = response.json() if response.status_code == 200 else {}
        except (httpx.TransportError, ValueError):
            status = {}
        if status.get("runtime_status") in FINISHED:
            return status
        if deadline.left() <= 0:
            raise HookError(
                f"run {instance_id} had not finished after {timeout_s:.0f} s (last status: "
                f"{status.get('runtime_status', 'unknown')} at {status.get('step') or 'start'})"
            )
        sleep(min(3.0, max(deadline.left(), 0.0)))


def report(status: dict[str, Any], out: TextIO) -> None:
    """Print the answer with its citations; a run that did not complete is an error."""
    if status.get("runtime_status") != "Completed":
        raise HookError(
            f"run {status.get('instance_id')} {status.get('runtime_status')} at {status.get('step')}: "
            f"{status.get('error') or 'no error recorded'}"
        )
    result = status.get("result") or {}
    out.write(f"\n{result.get('answer', '').strip()}\n")
    for number, citation in enumerate(result.get("citations") or [], 1):
        out.write(f"  [{number}] {citation.get('title')} ({citation.get('source')})\n")
    out.write("\nThe pipeline on Azure has answered.\n")


def _pipeline_command() -> list[str]:
    """The venv's `pipeline` console script, beside the interpreter running this hook."""
    name = "pipeline.exe" if os.name == "nt" else "pipeline"
    command = Path(sys.executable).parent / name
    if not command.exists():
        raise HookError(f"{command} not found: install the project into the venv (`pip install -e '.[azure]'`)")
    return [str(command)]


def _management_token() -> str:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential  # the `azure` extra; scripts/postdeploy.sh installs it

    try:
        with DefaultAzureCredential() as credential:
            return credential.get_token(f"{ARM}/.default").token
    except ClientAuthenticationError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise HookError(f"no Azure sign-in to use ({first}): run `azd auth login` or `az login`") from error


def main(env: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    if is_skipped(env):
        out.write(f"postdeploy: skipped ({SKIP} is set)\n")
        return 0
    try:
        target = load_target(env)
        timeout_s = float(env.get("PIPELINE_POSTDEPLOY_TIMEOUT_S") or DEFAULT_TIMEOUT_S)
        question = env.get("PIPELINE_POSTDEPLOY_QUESTION") or DEFAULT_QUESTION
        command = [*_pipeline_command(), "index", str(ROOT / "corpus")]
        out.write(f"postdeploy: indexing the sample corpus into {env['AZURE_SEARCH_INDEX']}\n")
        out.flush()
        index_corpus(
            lambda: subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=dict(env)),
            timeout_s=timeout_s,
            out=out,
        )
        # One request id per hook run: a retried POST cannot start a second run, and the next deploy
        # asks again instead of finding this run.
        request_id = "azd-postdeploy-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        with httpx.Client(timeout=30.0) as client:
            key = function_key(client, _management_token(), target)
            report(ask(client, target, key, question, request_id=request_id, timeout_s=timeout_s, out=out), out)
    except HookError as error:
        print(
            f"postdeploy: error: {error}\n(the deployment itself is done; rerun with `azd hooks run postdeploy`, "
            f"or skip with `azd env set {SKIP} true`)",
            file=sys.stderr,
        )
        return 1
    except (ValueError, httpx.HTTPError) as error:  # a bad PIPELINE_POSTDEPLOY_TIMEOUT_S, an unexpected answer
        print(f"postdeploy: error: {type(error).__name__}: {_without_query(str(error))}", file=sys.stderr)
        return 1
    return 0


def _without_query(text: str) -> str:
    """Error texts may quote a URL; its query string can hold the function key."""
    return re.sub(r"\?[^\s'\"]*", "", text)


if __name__ == "__main__":
    sys.exit(main())
