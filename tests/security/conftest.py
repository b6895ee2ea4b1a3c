"""Security tests reuse the embedded host fixtures (a running basic app) of tests/embedded_host."""

from __future__ import annotations

from tests.embedded_host.conftest import _queue_setting, marker_dir, run_host

__all__ = ["_queue_setting", "marker_dir", "run_host"]
