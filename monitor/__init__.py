"""The monitor page: plain HTML, CSS and JavaScript in ``static/``, served by `pipeline serve` at ``/monitor/``.

It reads only the Durable Functions HTTP API and this app's own routes, so the same files can be pointed at
a deployed Function App (base URL plus the ``durabletask_extension`` system key, kept in the browser session).
Nothing here is built: the files are what the browser runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PAGE_DIR", "PAGE_PREFIX"]

PAGE_DIR = Path(__file__).parent / "static"
PAGE_PREFIX = "/monitor"
