"""Build `workbook.json` (an Application Insights workbook) from the queries in `queries/`.

The `.kql` files are the source: edit one, then run `python dashboards/build_workbook.py`; a test
fails while `workbook.json` is out of date. Queries leave time filtering to the workbook (each
item takes its time range from the `TimeRange` parameter), so every file also runs as it is in
Logs, except `trace-of-event.kql`, whose `{Traceparent}` the workbook fills in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["ITEMS", "build", "main"]

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
WORKBOOK = HERE / "workbook.json"
SCHEMA = "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
RESOURCE_TYPE = "microsoft.insights/components"

# (query file stem, title, visualization); shown in this order.
ITEMS: list[tuple[str, str, str]] = [
    ("throughput", "Runs per 5 minutes by outcome", "timechart"),
    ("end-to-end-duration", "End-to-end duration (first span to event sent)", "table"),
    ("step-duration", "Step attempt duration p50 / p95 (ms)", "barchart"),
    ("failure-rate", "Failure rate by step and error kind", "table"),
    ("failed-runs", "Failed runs by step and error kind", "barchart"),
    ("retries", "Retries per step", "timechart"),
    ("token-usage", "Token usage by model and token type", "timechart"),
    ("failed-events", "Failed events and their traces (operation_Id)", "table"),
    ("stale-answers", "Stale answers per source (a re-index changed what they cited)", "barchart"),
    ("trace-of-event", "The trace of one event (paste its traceparent above)", "table"),
]


def _parameters() -> dict[str, Any]:
    return {
        "type": 9,
        "name": "parameters",
        "content": {
            "version": "KqlParameterItem/1.0",
            "style": "pills",
            "queryType": 0,
            "resourceType": RESOURCE_TYPE,
            "parameters": [
                {
                    "id": "time-range",
                    "version": "KqlParameterItem/1.0",
                    "name": "TimeRange",
                    "label": "Time range",
                    "type": 4,
                    "isRequired": True,
                    "value": {"durationMs": 86400000},
                    "typeSettings": {
                        "selectableValues": [
                            {"durationMs": 3600000},
                            {"durationMs": 14400000},
                            {"durationMs": 86400000},
                            {"durationMs": 604800000},
                        ],
                        "allowCustom": True,
                    },
                },
                {
                    "id": "traceparent",
                    "version": "KqlParameterItem/1.0",
                    "name": "Traceparent",
                    "label": "Event traceparent or trace id",
                    "type": 1,
                    "value": "",
                },
            ],
        },
    }


def _query_item(stem: str, title: str, visualization: str) -> dict[str, Any]:
    return {
        "type": 3,
        "name": stem,
        "content": {
            "version": "KqlItem/1.0",
            "query": (QUERIES / f"{stem}.kql").read_text(encoding="utf-8"),
            "size": 0,
            "title": title,
            "timeContextFromParameter": "TimeRange",
            "queryType": 0,
            "resourceType": RESOURCE_TYPE,
            "visualization": visualization,
        },
    }


def build() -> dict[str, Any]:
    """The workbook document, from the query files."""
    return {
        "version": "Notebook/1.0",
        "items": [
            {
                "type": 1,
                "name": "about",
                "content": {
                    "json": "## Durable AI Pipeline\nRuns, step latency, failures, retries and tokens, from "
                    "the pipeline's OpenTelemetry spans and metrics."
                },
            },
            _parameters(),
            *(_query_item(*item) for item in ITEMS),
        ],
        "fallbackResourceIds": [],
        "$schema": SCHEMA,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    WORKBOOK.write_text(render(), encoding="utf-8")
    print(f"wrote {WORKBOOK}")


if __name__ == "__main__":
    main()
