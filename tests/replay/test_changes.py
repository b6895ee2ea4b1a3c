"""`pipeline replay` against edited copies of this app: the changes that break instances in flight are caught.

Each case copies the app, edits its source as a developer would, and runs the real CLI from the copy over the
committed corpus (a subprocess, so the edited modules are the ones imported). Expected verdicts are per
recorded scenario: a change below the point where a run stopped cannot affect it (a run that failed at search
never reached the publish step, so removing that step leaves its history valid).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "replay_corpus"
ORCH = "orchestration/orchestrator.py"
PUBLISH_LINE = (
    "        published = yield from step("
    'StepName.PUBLISH_RESULT, {"result": result.model_dump(mode="json"), **accepted})\n'
)
# What the code does without the publish step: the same run, no activity call.
NO_PUBLISH_LINE = '        published = {"event_id": "none", "type": "none", "destination": "none"}\n'
AUDIT_LINE = '        yield context.call_activity("audit_answer", {"instance_id": context.instance_id})\n'

# (file, old text, new text)
Edit = tuple[str, str, str]

CASES: dict[str, tuple[list[Edit], dict[str, str]]] = {
    "reordered steps": (
        [
            (ORCH, "step(StepName.EMBED_QUERY, {", "step(StepName.SEARCH_DOCUMENTS, {"),
            (ORCH, "                    StepName.SEARCH_DOCUMENTS,\n", "                    StepName.EMBED_QUERY,\n"),
        ],
        {"clean": "diverged", "retry": "diverged", "permanent-failure": "diverged", "publish-failed": "diverged"},
    ),
    "removed step": (
        [(ORCH, PUBLISH_LINE, NO_PUBLISH_LINE)],
        {"clean": "diverged", "retry": "diverged", "permanent-failure": "clean", "publish-failed": "diverged"},
    ),
    "renamed activity": (
        [
            (
                "orchestration/retry.py",
                "context.call_activity(step.value,",
                'context.call_activity("compose_answer" if step is StepName.GENERATE_ANSWER else step.value,',
            )
        ],
        {"clean": "diverged", "retry": "diverged", "permanent-failure": "clean", "publish-failed": "diverged"},
    ),
    # Renaming the step itself also changes the input contract (retry policies are keyed by step name):
    # every recorded input now fails validation on replay, which is reported as "raises".
    "renamed step": (
        [("contracts/pipeline.py", 'GENERATE_ANSWER = "generate_answer"', 'GENERATE_ANSWER = "compose_answer"')],
        {"clean": "raises", "retry": "raises", "permanent-failure": "raises", "publish-failed": "raises"},
    ),
    "changed retry timer": (
        [
            (
                "orchestration/retry.py",
                "policy.delay_ms(attempt, error.retry_after_s))",
                "policy.delay_ms(attempt, error.retry_after_s) * 3)",
            )
        ],
        {"clean": "clean", "retry": "diverged", "permanent-failure": "clean", "publish-failed": "clean"},
    ),
    "new step before the end": (
        [(ORCH, PUBLISH_LINE, AUDIT_LINE + PUBLISH_LINE)],
        {"clean": "diverged", "retry": "diverged", "permanent-failure": "clean", "publish-failed": "diverged"},
    ),
    "activity-only change": (
        [("activities/generate_answer.py", 'text = " ".join(text.split())', 'text = " ".join(text.split()).upper()')],
        {"clean": "clean", "retry": "clean", "permanent-failure": "clean", "publish-failed": "clean"},
    ),
}

_SKIP = shutil.ignore_patterns(
    ".venv",
    ".git",
    ".pipeline",
    "tests",
    "bench",
    "evaluation",
    "corpus",
    "docs",
    "infra",
    "dashboards",
    "examples",
    "__pycache__",
    "*.egg-info",
    ".ruff_cache",
)


def _replay(app: Path) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env["PIPELINE_DATA_DIR"] = str(app / ".pipeline")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "replay", "--app", str(app), "--json", str(CORPUS)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"no JSON report: {done.stdout}\n{done.stderr}") from None


@pytest.mark.parametrize("case", list(CASES))
def test_replay_catches_changes_that_break_instances_in_flight(case: str, tmp_path: Path) -> None:
    edits, expected = CASES[case]
    app = tmp_path / "app"
    shutil.copytree(ROOT, app, ignore=_SKIP)
    for relative, old, new in edits:
        path = app / relative
        source = path.read_text()
        assert source.count(old) == 1, f"{relative} no longer contains {old!r}: update this test's edit"
        path.write_text(source.replace(old, new))

    code, report = _replay(app)

    verdicts = {Path(r["source"]).stem: r["outcome"] for r in report["instances"]}
    assert verdicts == expected, json.dumps(report, indent=1)
    assert code == (0 if set(expected.values()) == {"clean"} else 1)
    for entry in report["instances"]:
        if entry["outcome"] == "diverged":
            assert entry["event_index"] >= 1 and entry["recorded"] and entry["scheduled"]
        if entry["outcome"] == "raises":
            assert "validation error" in entry["message"]
    if code:
        assert "new name or version" in report["advice"] and "purge" in report["advice"]
