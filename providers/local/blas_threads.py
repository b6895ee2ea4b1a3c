"""numpy's BLAS on one thread in a process that answers questions.

The local providers' matrix products are small (a question's tokens against some thirty sentences',
a query vector against the index), and many runs compute at once. OpenBLAS gives a product above a
small size a thread per core and keeps those threads spinning after it; on two cores with fifty runs
in flight the spinning cost more CPU than the products (bench/RESULTS.md: the answer step's CPU fell
to a quarter with one thread). Concurrency comes from the runs in flight, as with the model
(onnxruntime runs one intra-op thread per pass). An operator who sets OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS or MKL_NUM_THREADS keeps that choice.
"""

from __future__ import annotations

import os
import threading

__all__ = ["use_one_blas_thread"]

_OPERATOR_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_lock = threading.Lock()
_done = False


def use_one_blas_thread() -> None:
    """Limit numpy's BLAS to one thread for the rest of the process (once; a no-op after)."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        if any(os.environ.get(name) for name in _OPERATOR_SETTINGS):
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
