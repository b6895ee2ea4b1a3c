"""Where the host takes cost out of the Durable SDK's replay without changing what the SDK computes.

The SDK replays an orchestration's whole history at every episode. Two of its costs per episode are not
the replay itself (profiles of `bench/engine.py`'s no-op pipeline):
- parsing every event's timestamp with dateutil, once 70 % of replay CPU: memoised (`timeutil`);
- building a `namedtuple` class in every `TaskOrchestrationExecutor` it constructs, a third of the SDK's
  CPU that was left: each class is made once per name and fields, and shared (its instances are plain
  tuples the executor reads by attribute; nothing tells two copies of the class apart).
Neither has a public option. Each is a no-op when the SDK's layout differs, so the app keeps running, and
tests/embedded_host/test_sdk_internals.py fails when an SDK upgrade moves them.
"""

from __future__ import annotations

import collections
import functools
import importlib
from typing import Any

from embedded_host.durable.timeutil import install_parse_cache

__all__ = ["install_sdk_shortcuts"]

_EXECUTOR_MODULE = "azure.durable_functions.models.TaskOrchestrationExecutor"


def _shared_namedtuple(typename: str, field_names: Any, **options: Any) -> type:
    fields = field_names if isinstance(field_names, str) else tuple(field_names)
    return _namedtuple_class(typename, fields, tuple(sorted(options.items())))


@functools.cache
def _namedtuple_class(typename: str, fields: str | tuple[str, ...], options: tuple[tuple[str, Any], ...]) -> type:
    return collections.namedtuple(typename, fields, **dict(options))


def _share_namedtuple_classes() -> None:
    try:
        module = importlib.import_module(_EXECUTOR_MODULE)
    except ImportError:  # the app may not use Durable Functions at all
        return
    if getattr(module, "namedtuple", None) is collections.namedtuple:
        module.namedtuple = _shared_namedtuple  # type: ignore[attr-defined]


def install_sdk_shortcuts() -> None:
    """Both shortcuts, once per process (idempotent)."""
    install_parse_cache()
    _share_namedtuple_classes()
