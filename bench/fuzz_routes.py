"""10,000 fuzzed requests over every route of `pipeline serve` (tests/chaos/route_fuzz.py); prints the figures.

Run: `.venv/bin/python bench/fuzz_routes.py [--examples 10000]` (results: bench/RESULTS-chaos.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.route_fuzz import fuzz_routes  # noqa: E402
from tests.chaos.scenarios import peak_rss_kb  # noqa: E402
from tests.processes import Server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", {"PIPELINE_RETRY_FIRST_INTERVAL_MS": "20"}).start(timeout=120)
        try:
            figures = fuzz_routes(server.base_url, args.examples, seed=1)
            assert server.proc is not None
            peak = round(peak_rss_kb(server.proc.pid) / 1024, 1)
            log = server.log()
        finally:
            server.stop()
    result = {**vars(figures), "by_status": dict(sorted(figures.by_status.items()))}  # asdict mangles a Counter
    print(json.dumps({**result, "peak_rss_mb": peak, "tracebacks_in_log_tail": log.count("Traceback")}))


if __name__ == "__main__":
    main()
