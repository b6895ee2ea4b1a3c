"""The workbook loads, is in step with its `.kql` files, and names only real App Insights tables/columns."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
QUERY_FILES = sorted((DASHBOARDS / "queries").glob("*.kql"))

_COMMON = {
    "timestamp",
    "itemType",
    "itemCount",
    "customDimensions",
    "operation_Name",
    "operation_Id",
    "operation_ParentId",
    "cloud_RoleName",
    "cloud_RoleInstance",
    "appName",
}
# Application Insights (classic) tables and the columns these queries may use.
TABLES: dict[str, set[str]] = {
    "requests": _COMMON
    | {"id", "name", "url", "success", "resultCode", "duration", "performanceBucket", "customMeasurements", "source"},
    "dependencies": _COMMON
    | {
        "id",
        "target",
        "type",
        "name",
        "data",
        "success",
        "resultCode",
        "duration",
        "performanceBucket",
        "customMeasurements",
    },
    "exceptions": _COMMON
    | {
        "problemId",
        "handledAt",
        "type",
        "message",
        "assembly",
        "method",
        "outerType",
        "outerMessage",
        "innermostType",
        "innermostMessage",
        "severityLevel",
        "details",
    },
    "traces": _COMMON | {"message", "severityLevel", "customMeasurements"},
    "customMetrics": _COMMON | {"name", "value", "valueCount", "valueSum", "valueMin", "valueMax", "valueStdDev"},
}
KEYWORDS = {
    "where",
    "extend",
    "summarize",
    "by",
    "project",
    "order",
    "asc",
    "desc",
    "let",
    "union",
    "join",
    "kind",
    "inner",
    "leftouter",
    "on",
    "and",
    "or",
    "in",
    "startswith",
    "distinct",
    "render",
    "take",
    "true",
    "false",
}
FUNCTIONS = {
    "bin",
    "count",
    "sum",
    "percentile",
    "countif",
    "round",
    "tostring",
    "toint",
    "todouble",
    "coalesce",
    "extract",
    "arg_max",
    "min",
    "max",
    "iff",
    "ago",
    "isnotempty",
    "dcount",
    "avg",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_COMMENT = re.compile(r"//[^\n]*")
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_DEFINED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*=(?!=)")


def _problems(query: str) -> list[str]:
    """Identifiers that are no KQL keyword or function, no table, no column of a used table, no local name."""
    text = _STRING.sub('""', _COMMENT.sub("", query))
    identifiers = [(m.group(), text[m.end() :].lstrip()[:1]) for m in _IDENTIFIER.finditer(text)]
    used_tables = {name for name, _ in identifiers if name in TABLES}
    columns = set().union(*(TABLES[t] for t in used_tables)) if used_tables else set()
    defined = set(_DEFINED.findall(text)) - KEYWORDS
    problems = []
    for name, after in identifiers:
        if name in KEYWORDS or name in TABLES or name in columns or name in defined:
            continue
        if after == "(" and name in FUNCTIONS:
            continue
        problems.append(name)
    if not used_tables:
        problems.append("<no table>")
    return problems


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
    assert _problems(path.read_text()) == []


def test_the_checker_catches_unknown_tables_and_columns() -> None:
    assert _problems("requests | where durationMs > 100") == ["durationMs"]
    assert _problems("customEvents | take 10") == ["customEvents", "<no table>"]
    assert _problems("dependencies | extend x = tostring(customDimensions['a']) | project x, target") == []
