"""The pipeline app with every activity execution written to a side file, so tests count executions.

Event ids are fixed per instance and the outbox drops a repeated one, so a question run twice still leaves one
event line: only a count of executions can show a duplicate. Each execution appends its attempt number to
``$PIPELINE_TEST_EXECUTIONS/<instance id>.<step>`` before it runs; the app is otherwise the project's own
``function_app.py``, run as it is (its blueprints are the ones whose ``run_step`` is wrapped here).
"""

import json
import os
import runpy
from pathlib import Path
from typing import Any

import activities.embed_query
import activities.generate_answer
import activities.publish_result
import activities.search_documents

_ROOT = Path(__file__).resolve().parents[2]


def _record(step: str, raw: Any) -> None:
    payload = json.loads(raw) if isinstance(raw, str | bytes) else raw
    folder = Path(os.environ["PIPELINE_TEST_EXECUTIONS"])
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{payload['instance_id']}.{step}", "a", encoding="utf-8") as side_file:
        side_file.write(f"{payload.get('attempt', 1)}\n")


def _counting(run_step: Any) -> Any:
    def run_counted(step: str, model: Any, raw: Any, work: Any) -> Any:
        _record(step, raw)
        return run_step(step, model, raw, work)

    return run_counted


for _module in (
    activities.embed_query,
    activities.search_documents,
    activities.generate_answer,
    activities.publish_result,
):
    _module.run_step = _counting(_module.run_step)  # type: ignore[attr-defined]

app = runpy.run_path(str(_ROOT / "function_app.py"), run_name="pipeline_function_app")["app"]
