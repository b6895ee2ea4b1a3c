"""Settings resolution and host.json reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedded_host.functions.config import HostConfig, HostConfigError, load_app_settings, resolve_expression


def test_unresolved_setting_is_a_clear_error() -> None:
    with pytest.raises(HostConfigError, match="MISSING_QUEUE"):
        resolve_expression("%MISSING_QUEUE%", {}, where="function 'f'")
    assert resolve_expression("%Q%-x", {"Q": "questions"}, where="f") == "questions-x"


def test_environment_overrides_local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"A": "file", "B": "file"}}))
    monkeypatch.setenv("A", "env")
    settings = load_app_settings(tmp_path)
    assert settings["A"] == "env" and settings["B"] == "file"


def test_host_json(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "extensions": {
                    "durableTask": {"hubName": "%HUB%", "maxConcurrentActivityFunctions": 3},
                    "http": {"routePrefix": ""},
                }
            }
        )
    )
    config = HostConfig.load(tmp_path, {"HUB": "MyHub"})
    assert (config.hub_name, config.max_concurrent_activities, config.route_prefix) == ("MyHub", 3, "")
    assert HostConfig.load(tmp_path / "none", {}).route_prefix == "api"
