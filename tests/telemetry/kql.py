"""What the workbook's KQL queries read: tables, columns, `customDimensions` keys (a small checker, not a parser).

Shared by the query-file check (only real Application Insights columns) and the Azure Monitor
end-to-end test (every column read is present in what the distro sends).
"""

from __future__ import annotations

import re

__all__ = ["TABLES", "problems", "reads"]

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


def problems(query: str) -> list[str]:
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


_DIMENSION = re.compile(r"customDimensions\[\s*[\"']([^\"']+)[\"']\s*\]")


def reads(query: str) -> tuple[set[str], set[str], set[str]]:
    """The tables a query reads, the table columns it names, and the `customDimensions` keys it reads."""
    without_comments = _COMMENT.sub("", query)
    dimensions = set(_DIMENSION.findall(without_comments))
    text = _STRING.sub('""', without_comments)
    names = {m.group() for m in _IDENTIFIER.finditer(text)}
    tables = names & set(TABLES)
    defined = set(_DEFINED.findall(text)) - KEYWORDS
    columns = {n for n in names - defined if any(n in TABLES[t] for t in tables)} - {"customDimensions"}
    return tables, columns, dimensions
