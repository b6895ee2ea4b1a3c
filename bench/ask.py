"""`pipeline ask` as a user runs it: a new process each time, timed from outside (wall, and CPU of the process).

Every ask is a different question (the evaluation sets' own), so nothing one ask read or embedded is there
for the next. The cases:
- first: the first ask in a new state folder (it copies the shipped sample index);
- alone: on one state folder whose index is built, the ask starts a host of its own (imports, model, host
  start, the run);
- through a fresh serve: the first ask after `pipeline serve` started on that folder, which answers it;
- through a warm serve: later asks, once the serve is idle again.

    .venv/bin/python bench/ask.py [--runs 7] [--pipeline .venv/bin/pipeline]

Give `--pipeline` a default install's entry point (`pip install -e .`) to time what users run; bytecode is
written as an install does (unset PYTHONDONTWRITEBYTECODE, or every ask compiles the project again).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import free_port  # noqa: E402 - after the path set-up above

sys.path.insert(0, str(ROOT / "bench"))
from pipeline import distinct_questions  # noqa: E402 - bench/pipeline.py, on the path just set

QUESTIONS = iter(distinct_questions(1000))


def timed_ask(pipeline: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `pipeline ask` process, asking a question not asked before."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    command = [pipeline, "ask", next(QUESTIONS), "--json"]
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(name: str, samples: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in samples]
    cpu = statistics.median(c for _, c in samples)
    return (
        f"{name}: wall median {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
        f"CPU median {cpu:.2f} s, {len(samples)} runs"
    )


def start_serve(pipeline: str, env: dict[str, str], data: Path) -> subprocess.Popen[bytes]:
    log = data.parent / "serve.log"
    command = [pipeline, "serve", "--port", str(free_port())]
    with log.open("ab") as out:
        serve = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
    while not (data / "serve.json").exists():  # written once it listens
        if serve.poll() is not None:
            raise SystemExit(f"serve exited: {log.read_text()}")
        time.sleep(0.05)
    return serve


def wait_until_idle(pid: int, *, busy: float = 0.05, timeout_s: float = 300.0) -> None:
    """Until the process uses less than `busy` of a core over a second (Linux: /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu()
        time.sleep(1.0)
        if cpu() - before < busy:
            return
    raise SystemExit("the serve stayed busy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pipeline", default=str(ROOT / ".venv/bin/pipeline"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "state"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"PIPELINE_CONFIG": str(Path(folder) / "no-settings.env")}
        timed_ask(args.pipeline, env | {"PIPELINE_DATA_DIR": str(Path(folder) / "warm-up")})  # bytecode written
        new_folders = [env | {"PIPELINE_DATA_DIR": str(Path(folder) / f"new-{n}")} for n in range(5)]
        first = [timed_ask(args.pipeline, new_env) for new_env in new_folders]
        print(summary("first, in a new state folder", first), flush=True)
        env |= {"PIPELINE_DATA_DIR": str(data)}
        timed_ask(args.pipeline, env)  # the index is built
        print(summary("alone, index built", [timed_ask(args.pipeline, env) for _ in range(args.runs)]), flush=True)
        fresh = []
        for _ in range(min(args.runs, 3)):
            serve = start_serve(args.pipeline, env, data)
            try:
                fresh.append(timed_ask(args.pipeline, env))
            finally:
                serve.send_signal(signal.SIGTERM)
                serve.wait(30)
        print(summary("through a serve started just before", fresh), flush=True)
        serve = start_serve(args.pipeline, env, data)
        try:
            timed_ask(args.pipeline, env)
            wait_until_idle(serve.pid)  # whatever it starts on its first question (a local index's preparation)
            print(summary("through a warm serve", [timed_ask(args.pipeline, env) for _ in range(args.runs)]))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)


if __name__ == "__main__":
    main()
