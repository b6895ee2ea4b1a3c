"""Timestamps in the shapes the Durable protocol uses, and a parse cache for the SDK.

The Python SDK parses every history event's ``Timestamp`` with ``dateutil`` on every replay; profiling
the SDK's replay measured that as ~70 % of its CPU. The host formats those strings itself, so it can
hand the SDK the already-parsed value: :func:`install_parse_cache` swaps the SDK's module-level
``dt_parse`` for a memoising wrapper that returns exactly what ``dateutil`` would (same value, same
``tzutc`` tzinfo), never a different result.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from dateutil.tz import tzutc

__all__ = ["install_parse_cache", "iso_utc", "now_utc", "parse_iso", "status_time"]

_UTC = tzutc()
# The tzinfo dateutil attaches to a "Z" timestamp (tzlocal() when the machine runs on UTC, else tzutc()):
# seeded values carry the same one so they are indistinguishable from a real parse.
_SDK_TZ: Any = _UTC
_CACHE: dict[str, _dt.datetime] = {}
_CACHE_LIMIT = 200_000
_installed = False


def now_utc() -> _dt.datetime:
    """The current time, timezone-aware, in the ``tzutc`` zone dateutil would give."""
    return _dt.datetime.now(_UTC)


def iso_utc(moment: _dt.datetime) -> str:
    """Format a history timestamp (``2026-11-25T12:00:00.123456Z``) and seed the parse cache with it."""
    text = moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if _installed and len(_CACHE) < _CACHE_LIMIT:
        _CACHE[text] = moment.astimezone(_UTC).replace(tzinfo=_SDK_TZ)
    return text


def status_time(moment: _dt.datetime) -> str:
    """Format a status-API time as the extension does (whole seconds, ``Z``)."""
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> _dt.datetime:
    """Parse a timestamp this host or the SDK wrote (ISO 8601, ``Z`` or offset)."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value


def _caching(original: Callable[..., Any]) -> Callable[..., Any]:
    def dt_parse(timestr: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(timestr, str):
            return original(timestr, *args, **kwargs)
        hit = _CACHE.get(timestr)
        if hit is None:
            hit = original(timestr)
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()  # bounded: a cold miss only costs one dateutil parse
            _CACHE[timestr] = hit
        return hit

    dt_parse.__wrapped__ = original  # type: ignore[attr-defined]
    return dt_parse


def install_parse_cache() -> None:
    """Memoise the SDK's history timestamp parsing (idempotent; a no-op if the SDK's layout differs).

    There is no public hook for this; tests/embedded_host/test_sdk_internals.py fails if the SDK moves it.
    """
    global _installed, _SDK_TZ
    if _installed:
        return
    try:
        import importlib

        module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    except ImportError:  # the app may not use Durable Functions at all
        return
    original = getattr(module, "dt_parse", None)
    if original is None or hasattr(original, "__wrapped__"):
        return
    _SDK_TZ = original("2000-01-01T00:00:00.000000Z").tzinfo
    module.dt_parse = _caching(original)  # type: ignore[attr-defined]
    _installed = True
