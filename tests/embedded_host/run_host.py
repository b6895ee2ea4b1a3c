"""Run the embedded host on an app folder in its own process (for kill -9 tests): prints the base URL."""

from __future__ import annotations

import sys
from pathlib import Path

from embedded_host import EmbeddedHost

if __name__ == "__main__":
    host = EmbeddedHost(Path(sys.argv[1]), Path(sys.argv[2]))
    host.run_forever(on_started=lambda h: print(h.base_url, flush=True))
