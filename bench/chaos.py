"""The chaos scenarios at the issue's sizes; writes the figures table to bench/RESULTS-chaos.md.

    .venv/bin/python bench/chaos.py                      # every scenario, default (issue) sizes
    .venv/bin/python bench/chaos.py --only crash,load --load 2000 --kills 10

The scenarios themselves (and what "lost" and "duplicated" mean for each) are in tests/chaos/scenarios.py,
shared with the CI-sized tests in tests/chaos. Each row of the table names the command that produced it.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the scenarios import the app's packages
    sys.path.insert(0, str(ROOT))

from tests.chaos import scenarios  # noqa: E402 - after the path set-up above
from tests.chaos.machine import run_disk_full  # noqa: E402
from tests.chaos.scenarios import Figures, pretty  # noqa: E402

SCENARIOS = ("crash", "faults", "permanent", "duplicates", "bad-input", "load", "webhook", "disk-full")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--crash-questions", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--slow-ms", type=int, default=150, help="retrieval delay that keeps work in flight")
    parser.add_argument("--fault-questions", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--permanent-questions", type=int, default=50)
    parser.add_argument("--duplicate-questions", type=int, default=100)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bad-input-rounds", type=int, default=10, help="times the malformed corpus is sent")
    parser.add_argument("--load", type=int, default=1000, help="questions through the queue")
    parser.add_argument("--webhook-events", type=int, default=20)
    parser.add_argument("--down-s", type=float, default=5.0)
    parser.add_argument("--window-s", type=float, default=3.0)
    parser.add_argument("--disk-before", type=int, default=200, help="questions before the disk fills (root)")
    parser.add_argument("--disk-queued", type=int, default=100)
    parser.add_argument("--disk-full-s", type=float, default=10.0)
    parser.add_argument("--disk-clients", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-chaos.md")
    return parser.parse_args(argv)


def _plan(a: argparse.Namespace) -> dict[str, tuple[Callable[[Path], Figures], str]]:
    """Scenario name -> (runner, the command that reproduces just that row)."""
    cmd = ".venv/bin/python bench/chaos.py --only {} {}"
    return {
        "crash": (
            lambda w: scenarios.run_crash(w, questions=a.crash_questions, kills=a.kills, slow_ms=a.slow_ms),
            cmd.format("crash", f"--crash-questions {a.crash_questions} --kills {a.kills} --slow-ms {a.slow_ms}"),
        ),
        "faults": (
            lambda w: scenarios.run_faults(
                w, questions=a.fault_questions, rate=a.fault_rate, max_attempts=a.max_attempts
            ),
            cmd.format(
                "faults",
                f"--fault-questions {a.fault_questions} --fault-rate {a.fault_rate} --max-attempts {a.max_attempts}",
            ),
        ),
        "permanent": (
            lambda w: scenarios.run_permanent_failures(w, questions=a.permanent_questions),
            cmd.format("permanent", f"--permanent-questions {a.permanent_questions}"),
        ),
        "duplicates": (
            lambda w: scenarios.run_duplicates(w, questions=a.duplicate_questions, copies=a.copies, clients=a.clients),
            cmd.format(
                "duplicates", f"--duplicate-questions {a.duplicate_questions} --copies {a.copies} --clients {a.clients}"
            ),
        ),
        "bad-input": (
            lambda w: scenarios.run_bad_queue_input(w, repeat=a.bad_input_rounds),
            cmd.format("bad-input", f"--bad-input-rounds {a.bad_input_rounds}"),
        ),
        "load": (lambda w: scenarios.run_load(w, questions=a.load), cmd.format("load", f"--load {a.load}")),
        "webhook": (
            lambda w: scenarios.run_webhook_outage(w, questions=a.webhook_events, down_s=a.down_s, window_s=a.window_s),
            cmd.format("webhook", f"--webhook-events {a.webhook_events} --down-s {a.down_s} --window-s {a.window_s}"),
        ),
        "disk-full": (
            lambda w: run_disk_full(
                w,
                before=a.disk_before,
                queued=a.disk_queued,
                during_s=a.disk_full_s,
                clients=a.disk_clients,
                timeout_s=600,
            ),
            cmd.format(
                "disk-full",
                f"--disk-before {a.disk_before} --disk-queued {a.disk_queued} --disk-full-s {a.disk_full_s}"
                f" --disk-clients {a.disk_clients}",
            ),
        ),
    }


def _row(figures: Figures, command: str) -> str:
    return (
        f"| {figures.test} | {figures.size} | {figures.lost} | {figures.duplicated} | "
        f"{figures.server_errors} | {figures.peak_rss_mb} MB | {figures.seconds} s | `{command}` |"
    )


def _notes(figures: Figures) -> str:
    notes = {k: v for k, v in figures.notes.items() if k != "by_message"}
    return f"- **{figures.test}**: `{json.dumps(notes, default=str)}`"


def write_results(path: Path, results: list[tuple[Figures, str]], argv: list[str]) -> None:
    header = [
        "# Chaos results",
        "",
        f"Produced by `{shlex.join(['.venv/bin/python', 'bench/chaos.py', *argv])}` on "
        f"{time.strftime('%Y-%m-%d')}, {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}. Each row's command re-runs that row alone.",
        "Lost: a question that did not reach its expected end (status, one event line, webhook delivery, or dead",
        "letter). Duplicated: more than one event id (or event line, or execution, or `created` start) for a question.",
        "5xx: answers of the host's HTTP API. Peak RSS: VmHWM of the `pipeline serve` process (max over restarts).",
        "",
        "| test | size | lost | duplicated | 5xx | peak RSS | time | command |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(f, c) for f, c in results),
        "",
        "## Details",
        "",
        *(_notes(f) for f, _ in results),
        "",
    ]
    path.write_text("\n".join(header))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _args(argv)
    plan = _plan(args)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in plan]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    results: list[tuple[Figures, str]] = []
    with tempfile.TemporaryDirectory(prefix="chaos-bench-") as tmp:
        for name in chosen:
            runner, command = plan[name]
            print(f"running {name} ...", flush=True)
            figures = runner(Path(tmp) / name)
            print("  " + pretty(figures), flush=True)
            results.append((figures, command))
    write_results(args.out, results, argv)
    print(f"wrote {args.out}")
    bad = [f for f, _ in results if f.lost or f.duplicated or f.server_errors]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
