"""The monitor's files as the host serves them: headers, no way out of the folder, nothing fetched from afar."""

from __future__ import annotations

import re

import aiohttp

from embedded_host import EmbeddedHost
from monitor import PAGE_DIR, PAGE_PREFIX
from tests.embedded_host.conftest import BASIC_APP


def test_assets_are_small_local_and_never_parse_data_as_markup() -> None:
    files = list(PAGE_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 200 * 1024
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f.name  # no CDN, no remote asset
        if f.suffix == ".js":
            text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
            assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", text), f.name


async def _serve(tmp_path, scenario) -> None:
    async with (
        EmbeddedHost(BASIC_APP, tmp_path / "data", pages={PAGE_PREFIX: PAGE_DIR}) as host,
        aiohttp.ClientSession(host.base_url) as http,
    ):
        await scenario(http)


def test_page_is_served_with_a_strict_policy(tmp_path, monkeypatch) -> None:
    import asyncio

    monkeypatch.setenv("TEST_QUEUE", "test-questions")  # the basic app's queue trigger names its queue so

    async def scenario(http: aiohttp.ClientSession) -> None:
        resp = await http.get("/monitor", allow_redirects=False)
        assert resp.status == 301 and resp.headers["Location"] == "/monitor/"
        resp = await http.get("/monitor/")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
        policy = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Referrer-Policy"] == "no-referrer"
        resp = await http.get("/monitor/app.js")
        assert resp.headers["Content-Type"].startswith("text/javascript")
        for path in ("/monitor/..%2Fpyproject.toml", "/monitor/__init__.py", "/monitor/.hidden.js", "/monitor/x.js"):
            assert (await http.get(path)).status == 404, path
        # The app's own routes still answer beside the page.
        assert (await http.post("/api/echo", data=b"x")).status == 200

    asyncio.run(_serve(tmp_path, scenario))
