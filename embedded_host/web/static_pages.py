"""Static pages the host serves beside an app, such as a monitor: flat folders of files under a URL prefix.

The host knows nothing of what a page does; whoever starts it names the folders. Only files directly in a
folder are served (no sub-paths, so no way out of it), with headers that keep a page that renders run data
safe: a Content-Security-Policy allowing this origin's own scripts and styles only (no inline script, so
text that slips through unescaped still cannot run), ``nosniff``, no referrer (a page URL never leaks to
a deployed app it talks to), and no framing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from embedded_host.web.responses import problem

__all__ = ["PAGE_HEADERS", "add_static_pages"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")

PAGE_HEADERS = {
    # connect-src: this origin, and any https origin, so the page can be pointed at a deployed app.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def add_static_pages(app: web.Application, pages: Mapping[str, Path]) -> None:
    """Serve each folder at its prefix (``/monitor`` → ``/monitor/`` → ``index.html``)."""
    for prefix, folder in pages.items():
        root = "/" + prefix.strip("/")
        folder = Path(folder).resolve()

        async def redirect(request: web.Request, root: str = root) -> web.StreamResponse:
            raise web.HTTPMovedPermanently(root + "/")

        async def serve(request: web.Request, folder: Path = folder) -> web.StreamResponse:
            name = request.match_info.get("name") or "index.html"
            path = folder / name
            if not _NAME.match(name) or path.suffix not in _TYPES or not path.is_file():
                return problem(404, "Not Found", f"No file named '{name[:100]}' here.", request.path)
            headers = {**PAGE_HEADERS, "Content-Type": _TYPES[path.suffix]}
            return web.Response(body=path.read_bytes(), headers=headers)

        app.router.add_get(root, redirect)
        app.router.add_get(root + "/", serve)
        app.router.add_get(root + "/{name}", serve)
