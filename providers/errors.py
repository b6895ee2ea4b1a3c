"""The one error type providers raise; SDK exceptions are translated into it at the boundary.

It is defined in `contracts.errors`, beside the `StepError` it becomes, so that `ingestion/` (below the
providers) raises it too; this module is where providers name it.
"""

from __future__ import annotations

from contracts.errors import ProviderError

__all__ = ["ProviderError"]
