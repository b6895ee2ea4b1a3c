"""The workbook loads, is in step with its `.kql` files, and names only real App Insights tables/columns."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.telemetry.kql import problems

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
QUERY_FILES = sorted((DASHBOARDS / "queries").glob("*.kql"))


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_workbook", DASHBOARDS / "build_workbook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_workbook_is_a_valid_workbook_document() -> None:
    workbook = json.loads((DASHBOARDS / "workbook.json").read_text())
    assert workbook["version"] == "Notebook/1.0"
    assert workbook["$schema"].endswith("/schema/workbook.json")
    queries = [item for item in workbook["items"] if item["type"] == 3]
    assert queries
    for item in queries:
        content = item["content"]
        assert content["version"] == "KqlItem/1.0"
        assert content["queryType"] == 0
        assert content["resourceType"] == "microsoft.insights/components"
        assert content["query"].strip() and content["title"]
    names = {p["name"] for item in workbook["items"] if item["type"] == 9 for p in item["content"]["parameters"]}
    assert {c["content"].get("timeContextFromParameter") for c in queries} <= names


def test_the_workbook_is_built_from_the_query_files() -> None:
    builder = _builder()
    assert (DASHBOARDS / "workbook.json").read_text() == builder.render(), "run python dashboards/build_workbook.py"
    assert {stem for stem, _, _ in builder.ITEMS} == {path.stem for path in QUERY_FILES}


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_queries_name_only_known_tables_and_columns(path: Path) -> None:
    assert problems(path.read_text()) == []


def test_the_checker_catches_unknown_tables_and_columns() -> None:
    assert problems("requests | where durationMs > 100") == ["durationMs"]
    assert problems("customEvents | take 10") == ["customEvents", "<no table>"]
    assert problems("dependencies | extend x = tostring(customDimensions['a']) | project x, target") == []
