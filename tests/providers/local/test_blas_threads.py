"""The local providers keep numpy's BLAS on one thread, unless the operator said otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# A new process each: the limit is process-wide, and this test process's BLAS must stay as it is.
_PROBE = """
import json
from threadpoolctl import threadpool_info
from providers.local.extractive import ExtractiveAnswerer
before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
ExtractiveAnswerer()
after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after}))
"""


def _blas_threads(**env: str) -> dict[str, list[int]]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: BLAS has one thread already")
def test_building_a_local_provider_leaves_blas_one_thread() -> None:
    threads = _blas_threads()
    assert threads["before"] and all(n > 1 for n in threads["before"])  # numpy's own default: a thread per core
    assert threads["after"] == [1] * len(threads["before"])


def test_an_operator_setting_is_kept() -> None:
    threads = _blas_threads(OPENBLAS_NUM_THREADS="2")
    assert threads["before"] == threads["after"] == [2] * len(threads["after"])
