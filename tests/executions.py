"""Reading the side files of `tests/counting_app`: how many times each activity attempt of each instance ran."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from pathlib import Path

__all__ = ["COUNTING_APP", "STEPS", "Executions", "missing_steps", "read_executions", "repeats"]

COUNTING_APP = Path(__file__).parent / "counting_app"
STEPS = ("embed_query", "search_documents", "generate_answer", "publish_result")

# (instance id, step, attempt) -> how many times that attempt ran
Executions = collections.Counter[tuple[str, str, int]]


def read_executions(folder: Path) -> Executions:
    counts: Executions = collections.Counter()
    for side_file in folder.glob("*.*"):
        instance_id, _, step = side_file.name.rpartition(".")
        for line in side_file.read_text(encoding="utf-8").split():
            counts[(instance_id, step, int(line))] += 1
    return counts


def repeats(counts: Executions) -> int:
    """Executions beyond the first of each attempt: what at-least-once may add after a crash, nothing else."""
    return sum(n - 1 for n in counts.values())


def missing_steps(counts: Executions, ids: Iterable[str]) -> dict[str, list[str]]:
    """The steps of each instance that never ran (a completed question runs all four)."""
    ran = {(i, s) for i, s, _ in counts}
    return {i: gaps for i in ids if (gaps := [s for s in STEPS if (i, s) not in ran])}
