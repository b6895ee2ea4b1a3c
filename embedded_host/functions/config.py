"""Host settings: ``host.json`` values the embedded host honours and app settings for ``%NAME%`` expressions.

Settings resolve like ``func start`` does: the process environment, then ``local.settings.json`` ``Values``
(environment wins, so a shell export overrides the file).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded_host.durable.backends import AZURE_STORAGE, TimerLimits, storage_provider, timer_limits

__all__ = ["HostConfig", "HostConfigError", "load_app_settings", "resolve_expression"]

_EXPRESSION = re.compile(r"%([^%]+)%")


class HostConfigError(RuntimeError):
    """The app folder cannot be hosted as configured (bad host.json, unresolved setting, bad function)."""


@dataclass(frozen=True)
class HostConfig:
    """What the host reads from ``host.json``."""

    hub_name: str = "TestHubName"
    max_concurrent_activities: int = 10
    max_concurrent_orchestrations: int = 100
    route_prefix: str = "api"
    max_delivery_count: int = 10
    lock_duration_s: float = 30.0
    storage_provider: str = AZURE_STORAGE  # the Durable backend emulated (see backends.py)
    # Keep each running orchestration's SDK executor between episodes (durable/sessions.py). On by default
    # here, unlike the extension: host.json's ``extendedSessionsEnabled: false`` replays every episode.
    extended_sessions: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timer_limits(self) -> TimerLimits | None:
        """The long-timer limits the extension would send the SDK for this backend."""
        return timer_limits(self.storage_provider)

    @classmethod
    def load(cls, app_dir: Path, settings: Mapping[str, str]) -> HostConfig:
        path = app_dir / "host.json"
        if not path.exists():
            return cls(storage_provider=storage_provider({}, settings))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HostConfigError(f"{path}: not valid JSON ({exc})") from exc
        extensions = data.get("extensions") or {}
        durable = extensions.get("durableTask") or {}
        http = extensions.get("http") or {}
        service_bus = extensions.get("serviceBus") or {}
        hub = durable.get("hubName") or cls.hub_name
        hub = resolve_expression(str(hub), settings, where="host.json extensions.durableTask.hubName")
        prefix = http.get("routePrefix", "api")
        return cls(
            hub_name=hub,
            max_concurrent_activities=max(1, int(durable.get("maxConcurrentActivityFunctions") or 10)),
            max_concurrent_orchestrations=max(1, int(durable.get("maxConcurrentOrchestratorFunctions") or 100)),
            route_prefix=str(prefix or "").strip("/"),
            # Service Bus keeps maxDeliveryCount on the queue, not in host.json; accept it here for local use.
            max_delivery_count=max(1, int(service_bus.get("maxDeliveryCount") or 10)),
            lock_duration_s=_timespan_seconds(service_bus.get("maxAutoLockRenewalDuration"), 30.0),
            storage_provider=storage_provider(data, settings),
            extended_sessions=durable.get("extendedSessionsEnabled") is not False,
            raw=data,
        )


def _timespan_seconds(value: Any, default: float) -> float:
    """Parse a .NET timespan ``hh:mm:ss`` (as host.json writes durations)."""
    if not value:
        return default
    try:
        parts = [float(p) for p in str(value).split(":")]
    except ValueError:
        return default
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds or default


def load_app_settings(app_dir: Path) -> dict[str, str]:
    """Environment over ``local.settings.json`` ``Values``, as ``func`` merges them."""
    merged: dict[str, str] = {}
    path = app_dir / "local.settings.json"
    if path.exists():
        try:
            values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
        except (OSError, ValueError) as exc:
            raise HostConfigError(f"{path}: not valid JSON ({exc})") from exc
        merged.update({str(k): str(v) for k, v in values.items()})
    merged.update(os.environ)
    return merged


def resolve_expression(value: str, settings: Mapping[str, str], *, where: str) -> str:
    """Replace each ``%NAME%`` with its app setting; a missing one is a startup error, as in Azure."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise HostConfigError(
                f"{where}: binding expression '%{name}%' is not resolved: "
                f"set {name} in the environment or in local.settings.json Values"
            )
        return settings[name]

    return _EXPRESSION.sub(substitute, value)
