"""`pipeline export`: histories from the local state file, or from an app's Durable HTTP API, for replay."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from cli.main import main
from config import get_settings

ROOT = Path(__file__).resolve().parents[2]
BENCH_APP = ROOT / "bench" / "engine_app"
CORPUS = ROOT / "tests" / "replay_corpus"
KEY = "system-key-that-must-never-be-printed"


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("PIPELINE_EXPORT_URL", raising=False)
    monkeypatch.delenv("PIPELINE_EXPORT_KEY", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_local_export_then_replay_against_another_app(
    tmp_path: Path, settings_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from embedded_host import EmbeddedHost

    data = tmp_path / "data"

    async def runs() -> int:
        async with EmbeddedHost(BENCH_APP, data, consume_queues=False) as host:
            for i in range(3):
                instance_id = await host.start_new("four_steps", i, instance_id=f"run-{i}")
                assert (await host.wait_for_completion(instance_id, 30))["runtimeStatus"] == "Completed"
            # the same through the host's Durable HTTP API (its list, then each instance with history)
            settings_env.setenv("PIPELINE_EXPORT_URL", host.base_url)
            get_settings.cache_clear()
            code = await asyncio.to_thread(main, ["export", "--status", "Completed", str(tmp_path / "remote")])
            settings_env.delenv("PIPELINE_EXPORT_URL")
            return code

    assert asyncio.run(runs()) == 0
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["run-0.json", "run-1.json", "run-2.json"]
    settings_env.setenv("PIPELINE_DATA_DIR", str(data))
    get_settings.cache_clear()
    out = tmp_path / "histories"

    assert main(["export", "--status", "Completed", "--top", "2", "--since", "2000-01-01", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["run-1.json", "run-2.json"]  # the newest, as the list API
    saved = json.loads((out / "run-1.json").read_text())
    assert [e["EventType"] for e in saved["historyEvents"]].count("TaskCompleted") == 4
    assert main(["export", "--status", "Running", str(tmp_path / "none")]) == 0
    assert not list((tmp_path / "none").iterdir())
    capsys.readouterr()

    assert main(["replay", "--app", str(BENCH_APP), str(out)]) == 0
    assert capsys.readouterr().out.count("replays cleanly") == 2


class _FakeDurableApi(BaseHTTPRequestHandler):
    """The list API in two pages (ignoring filters, as an older API might) and one instance's status."""

    seen_queries: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        if self.headers.get("x-functions-key") != KEY:
            self._send(401, b"")
            return
        url = urlparse(self.path)
        self.seen_queries.append(parse_qs(url.query))
        root = "/runtime/webhooks/durabletask/instances"
        clean = json.loads((CORPUS / "clean.json").read_text())
        if url.path == root:
            second = self.headers.get("x-ms-continuation-token") == "page-2"
            items = (
                [{**clean, "instanceId": "b", "runtimeStatus": "Running"}]
                if second
                else [
                    {**clean, "instanceId": "a"},
                    {**clean, "instanceId": "old", "createdTime": "2001-01-01T00:00:00Z"},
                ]
            )
            for item in items:
                item.pop("historyEvents")
            self._send(200, json.dumps(items).encode(), {} if second else {"x-ms-continuation-token": "page-2"})
        elif url.path.startswith(root + "/"):
            self._send(200, json.dumps({**clean, "instanceId": url.path.rsplit("/", 1)[1]}).encode())
        else:
            self._send(404, b"")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def durable_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeDurableApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeDurableApi.seen_queries = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_export_pages_filters_and_never_prints_the_key(
    tmp_path: Path, durable_api: str, settings_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_env.setenv("PIPELINE_EXPORT_URL", durable_api)
    settings_env.setenv("PIPELINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    out = tmp_path / "out"

    assert main(["export", "--status", "Completed,Running", "--since", "2020-01-01T00:00:00Z", str(out)]) == 0

    assert sorted(p.stem for p in out.iterdir()) == ["a", "b"]  # "old" is filtered here, page 2 followed
    listing = _FakeDurableApi.seen_queries[0]
    assert listing["runtimeStatus"] == ["Completed,Running"] and listing["createdTimeFrom"] == ["2020-01-01T00:00:00Z"]
    assert any(q.get("showHistoryOutput") == ["true"] for q in _FakeDurableApi.seen_queries)
    printed = capsys.readouterr()
    assert KEY not in printed.out + printed.err
    assert all(KEY not in p.read_text() for p in out.iterdir())

    assert main(["export", "--top", "1", str(tmp_path / "one")]) == 0
    assert len(list((tmp_path / "one").iterdir())) == 1

    settings_env.setenv("PIPELINE_EXPORT_KEY", "wrong")
    get_settings.cache_clear()
    assert main(["export", str(tmp_path / "denied")]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "PIPELINE_EXPORT_KEY" in err and "wrong" not in err
