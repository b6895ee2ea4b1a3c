"""Chaos scenarios against a real `pipeline serve` process, shared by `tests/chaos` and `bench/chaos.py`.

Each scenario starts its own host on its own data directory, drives it (kill -9, injected faults, duplicate
deliveries, malformed input, load, a subscriber that is down), checks what came out (statuses, histories,
events.jsonl, what a webhook received, the dead-letter queue) and returns `Figures`: questions lost, duplicated,
5xx answers, the host's peak RSS and the wall time. The tests assert on the figures at CI sizes; the bench runs
the same code at the issue's sizes and writes the table. Nothing here is a pytest test (no `test_` prefix).
"""

from __future__ import annotations

import collections
import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from contracts import COMPLETED_EVENT_TYPE, FAILED_EVENT_TYPE, event_id_for
from tests.executions import COUNTING_APP, missing_steps, read_executions, repeats
from tests.processes import Server, Webhook, free_port

__all__ = [
    "MALFORMED_MESSAGES",
    "Figures",
    "Host",
    "Receiver",
    "run_bad_queue_input",
    "run_crash",
    "run_duplicates",
    "run_faults",
    "run_load",
    "run_permanent_failures",
    "run_webhook_outage",
]

QUESTIONS = (
    "How does the pipeline retry a failed step?",
    "What happens to an invalid queue message?",
    "What is a task hub?",
    "How are events deduplicated?",
    "What does peek-lock mean?",
)
TERMINAL = ("Completed", "Failed", "Terminated")
FAST_RETRIES = {
    "PIPELINE_RETRY_FIRST_INTERVAL_MS": "20",
    "PIPELINE_RETRY_MAX_INTERVAL_MS": "200",
    "PIPELINE_RETRY_BACKOFF_COEFFICIENT": "2",
}


@dataclass
class Figures:
    """What one scenario measured; `notes` holds scenario-specific counts (retries, latencies ...)."""

    test: str
    size: str
    lost: int
    duplicated: int
    server_errors: int
    peak_rss_mb: float
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


# -- the host and its observers ------------------------------------------------------------------------------


def peak_rss_kb(pid: int) -> int:
    """The peak resident set (VmHWM) of a live process; the current RSS where /proc is missing."""
    return _memory_kb(pid, "VmHWM:")


def rss_kb(pid: int) -> int:
    """The current resident set of a live process (VmRSS), 0 when it cannot be read."""
    return _memory_kb(pid, "VmRSS:")


def _memory_kb(pid: int, field: str) -> int:
    """A /proc/PID/status memory line in KiB; psutil's current RSS where /proc is missing; 0 when neither reads."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss // 1024)
    except Exception:
        return 0


class Host:
    """A `pipeline serve` process that can be killed and restarted; tracks 5xx answers and the peak RSS."""

    def __init__(self, data_dir: Path, env: dict[str, str], *, counted: Path | None = None) -> None:
        """``counted``: serve `tests/counting_app`, which counts activity executions in side files there."""
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        if counted is not None:
            env = {**env, "PIPELINE_TEST_EXECUTIONS": str(counted)}
        self.server = Server(data_dir, env, app=COUNTING_APP if counted is not None else None)
        self.data_dir = data_dir
        self.peak_kb = 0
        self.server_errors = 0
        self.restarts = 0
        self._lock = threading.Lock()
        self.http = httpx.Client(timeout=10)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> Host:
        self.server.start(timeout=60)
        return self

    def sample_rss(self) -> None:
        proc = self.server.proc
        if proc is not None and proc.poll() is None:
            self.peak_kb = max(self.peak_kb, peak_rss_kb(proc.pid))

    def rss_mb(self) -> float:
        proc = self.server.proc
        return round(rss_kb(proc.pid) / 1024, 1) if proc is not None and proc.poll() is None else 0.0

    def kill(self) -> None:
        self.sample_rss()
        self.server.kill()

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        self.sample_rss()
        if self.server.proc is not None and self.server.proc.poll() is None:
            self.server.stop()
        self.http.close()

    def count(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 500:
            with self._lock:
                self.server_errors += 1
        return response

    def post_question(
        self, body: dict[str, Any], *, client: httpx.Client | None = None, deadline_s: float = 120.0
    ) -> httpx.Response:
        """POST until the host answers below 500; a host that is down (or killed mid-request) is retried,
        which is safe because the request carries its request_id."""
        client = client or self.http
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                response = self.count(client.post(self.base_url + "/api/pipeline/start", json=body))
                if response.status_code < 500:
                    return response
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{body.get('request_id')} was never accepted")
            time.sleep(0.05)

    def status(self, instance_id: str) -> dict[str, Any] | None:
        response = self.count(self.http.get(f"{self.base_url}/api/pipeline/{instance_id}"))
        return response.json() if response.status_code == 200 else None

    def history(self, instance_id: str) -> dict[str, Any]:
        url = f"{self.base_url}/runtime/webhooks/durabletask/instances/{instance_id}?showHistory=true"
        return self.count(self.http.get(url)).json()

    def wait_all(self, ids: Iterable[str], timeout_s: float) -> dict[str, dict[str, Any]]:
        """Poll until every instance is terminal (or the timeout); returns the last status of each."""
        pending = set(ids)
        final: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for instance_id in sorted(pending):
                try:
                    status = self.status(instance_id)
                except httpx.HTTPError:
                    break
                if status is not None and status["runtime_status"] in TERMINAL:
                    final[instance_id] = status
                    pending.discard(instance_id)
            if pending:
                time.sleep(0.2)
        return final

    def queue(self, name: str = "questions") -> Any:
        """The host's local queue, opened from this process (as `pipeline enqueue` does)."""
        from embedded_host import LocalQueue, state_path

        return LocalQueue(state_path(self.data_dir), name)


def event_lines(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_lines(data_dir: Path, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    lines = event_lines(data_dir)
    while not predicate(lines) and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = event_lines(data_dir)
    return lines


def exactly_once(
    ids: Sequence[str],
    statuses: dict[str, dict[str, Any]],
    lines: list[dict[str, Any]],
    delivered: list[dict[str, Any]] | None,
    *,
    event_type: str = COMPLETED_EVENT_TYPE,
    expect: str = "Completed",
) -> tuple[int, int, dict[str, Any]]:
    """(lost, duplicated, notes) for questions that should each end `expect` with one `event_type` event.

    Lost: not in the expected state, or no event line, or (with a webhook) never delivered. Duplicated: an id
    with more than one line in events.jsonl, or a question with more than one distinct event id in the log or
    at the webhook. Repeat deliveries of the same id are allowed (at least once) and only counted.
    """
    per_id = collections.Counter(e["id"] for e in lines)
    ids_of: dict[str, set[str]] = collections.defaultdict(set)
    for e in lines:
        if e["type"] == event_type:
            ids_of[e["subject"]].add(e["id"])
    hook_ids: dict[str, set[str]] = collections.defaultdict(set)
    hook_count: collections.Counter[str] = collections.Counter()
    for e in delivered or []:
        if e["type"] == event_type:
            hook_ids[e["subject"]].add(e["id"])
            hook_count[e["id"]] += 1
    lost = duplicated = 0
    for instance_id in ids:
        subject = f"pipeline/{instance_id}"
        expected_id = event_id_for(instance_id, event_type)
        status = statuses.get(instance_id)
        missing = status is None or status["runtime_status"] != expect or not ids_of.get(subject)
        undelivered = delivered is not None and expected_id not in hook_ids.get(subject, set())
        lost += 1 if missing or undelivered else 0
        if len(ids_of.get(subject, ())) > 1 or per_id.get(expected_id, 0) > 1 or len(hook_ids.get(subject, ())) > 1:
            duplicated += 1
    notes = {"webhook_repeats": sum(n - 1 for n in hook_count.values() if n > 1)}
    return lost, duplicated, notes


def history_counts(history: dict[str, Any]) -> dict[str, int]:
    """How many times each activity was scheduled, plus timers and executions, from a status with history."""
    counts: collections.Counter[str] = collections.Counter()
    for ev in history.get("historyEvents", []):
        kind = ev.get("EventType")
        if kind == "TaskScheduled":
            counts[ev.get("FunctionName") or ev.get("Name") or "?"] += 1
        elif kind in ("TimerCreated", "ExecutionStarted", "TaskFailed"):
            counts[kind] += 1
    return dict(counts)


class Receiver:
    """A CloudEvents webhook on a chosen port, so a test can start it after the host has been failing to reach
    it; `received` keeps every POST (id and arrival time)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/events"
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append({**json.loads(body), "_arrived": time.time()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, ids: set[str], timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if ids <= {e["id"] for e in self.received}:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)


def _delivered(hook: Webhook, expected: set[str], timeout_s: float) -> list[dict[str, Any]]:
    """What the webhook received once it has every expected id, or when the timeout ends (missing = lost)."""
    try:
        return hook.wait_for(lambda evs: expected <= {e["id"] for e in evs}, timeout_s)
    except AssertionError:
        with hook.lock:
            return list(hook.events)


def _question(i: int, **extra: Any) -> dict[str, Any]:
    return {"question": QUESTIONS[i % len(QUESTIONS)], **extra}


def _finish(
    host: Host, name: str, size: str, lost: int, duplicated: int, began: float, notes: dict[str, Any]
) -> Figures:
    host.stop()
    return Figures(
        name,
        size,
        lost,
        duplicated,
        host.server_errors,
        round(host.peak_kb / 1024, 1),
        round(time.monotonic() - began, 1),
        notes,
    )


# -- crash ----------------------------------------------------------------------------------------------------


def run_crash(
    workdir: Path, *, questions: int = 200, kills: int = 5, slow_ms: int = 150, seed: int = 7, timeout_s: float = 240.0
) -> Figures:
    """kill -9 the host at random moments while questions arrive over HTTP and the queue and run slowly."""
    rng = random.Random(seed)
    began = time.monotonic()
    hook = Webhook()
    host = Host(
        workdir / "data",
        {
            "PIPELINE_EVENT_WEBHOOKS": hook.url,
            "PIPELINE_FAULTS": f"retrieval=slow:1:{slow_ms}",
            **FAST_RETRIES,
        },
        counted=workdir / "executions",
    ).start()
    http_ids = [f"crash-h{i}" for i in range(questions // 2)]
    queue_ids = [f"crash-q{i}" for i in range(questions - len(http_ids))]
    ids = http_ids + queue_ids
    submitted = [0]
    queue = host.queue()

    def submit() -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(max(len(http_ids), len(queue_ids))):
                if i < len(http_ids):
                    host.post_question(_question(i, request_id=http_ids[i]), client=client)
                    submitted[0] += 1
                if i < len(queue_ids):  # no request_id: the message id names the instance
                    queue.send(json.dumps(_question(i)), message_id=queue_ids[i])
                    submitted[0] += 1

    producer = threading.Thread(target=submit, name="chaos-producer")
    producer.start()
    in_flight_at_kill: list[int] = []
    completed_at_kill: list[int] = []
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.5))
        completed = sum(1 for e in event_lines(host.data_dir) if e["type"] == COMPLETED_EVENT_TYPE)
        in_flight_at_kill.append(submitted[0] - completed)
        completed_at_kill.append(completed)
        host.restart()
    producer.join()
    queue.close()
    statuses = host.wait_all(ids, timeout_s)
    expected = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    lines = wait_for_lines(host.data_dir, lambda ls: expected <= {e["id"] for e in ls}, 30)
    delivered = _delivered(hook, expected, 60)
    lost, duplicated, notes = exactly_once(ids, statuses, lines, delivered)
    hook.close()
    # Events cannot show a question run twice (its event id is fixed): the side files count every execution
    # of every activity attempt, over every instance. Only what was in flight at a kill may run again.
    runs = read_executions(workdir / "executions")
    notes.update(
        kills=kills,
        in_flight_at_kill=in_flight_at_kill,
        completed_at_kill=completed_at_kill,
        repeated_executions=repeats(runs),
        most_runs_of_an_attempt=max(runs.values(), default=0),
        instances_missing_a_step=len(missing_steps(runs, ids)),
    )
    return _finish(host, "crash (kill -9)", f"{questions} questions, {kills} kills", lost, duplicated, began, notes)


# -- faults ---------------------------------------------------------------------------------------------------


def run_faults(
    workdir: Path,
    *,
    questions: int = 40,
    rate: float = 0.3,
    max_attempts: int = 10,
    seed: int = 11,
    timeout_s: float = 180.0,
) -> Figures:
    """Transient failures on every provider: every question completes, and the retries show in history."""
    began = time.monotonic()
    hook = Webhook()
    faults = ",".join(f"{role}=transient:{rate}" for role in ("embeddings", "retrieval", "generation", "events"))
    host = Host(
        workdir / "data",
        {
            "PIPELINE_EVENT_WEBHOOKS": hook.url,
            "PIPELINE_FAULTS": faults,
            "PIPELINE_FAULTS_SEED": str(seed),
            "PIPELINE_RETRY_MAX_ATTEMPTS": str(max_attempts),
            **FAST_RETRIES,
        },
    ).start()
    ids = [f"flaky-{i}" for i in range(questions)]
    with host.queue() as queue:
        for i, instance_id in enumerate(ids):
            if i % 2:
                queue.send(json.dumps(_question(i, request_id=instance_id)), message_id=f"m-{instance_id}")
            else:
                assert host.post_question(_question(i, request_id=instance_id)).status_code == 202
    statuses = host.wait_all(ids, timeout_s)
    expected = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    lines = wait_for_lines(host.data_dir, lambda ls: expected <= {e["id"] for e in ls}, 30)
    delivered = _delivered(hook, expected, 60)
    lost, duplicated, notes = exactly_once(ids, statuses, lines, delivered)
    hook.close()
    counts = [history_counts(host.history(i)) for i in ids]
    steps = ("embed_query", "search_documents", "generate_answer", "publish_result")
    notes.update(
        retries=sum(c.get("TimerCreated", 0) for c in counts),
        failed_attempts=sum(c.get("TaskFailed", 0) for c in counts),
        instances_with_retries=sum(1 for c in counts if c.get("TimerCreated", 0)),
        most_attempts_of_a_step=max(c.get(s, 0) for c in counts for s in steps),
        max_attempts=max_attempts,
    )
    return _finish(
        host, f"faults ({rate:.0%} transient, every provider)", f"{questions} questions", lost, duplicated, began, notes
    )


def run_permanent_failures(
    workdir: Path, *, questions: int = 10, max_attempts: int = 3, timeout_s: float = 120.0
) -> Figures:
    """A permanent fault fails at once; an always-transient one fails after exactly `max_attempts` calls.

    Both publish one Failed event per question; the call counts come from history (TaskScheduled).
    """
    began = time.monotonic()
    notes: dict[str, Any] = {}
    lost = duplicated = errors = 0
    peak = 0.0
    for kind, expected_calls in (("permanent", 1), ("transient", max_attempts)):
        hook = Webhook()
        host = Host(
            workdir / kind / "data",
            {
                "PIPELINE_EVENT_WEBHOOKS": hook.url,
                "PIPELINE_FAULTS": f"retrieval={kind}:1",
                "PIPELINE_RETRY_MAX_ATTEMPTS": str(max_attempts),
                **FAST_RETRIES,
            },
        ).start()
        ids = [f"{kind}-{i}" for i in range(questions)]
        for i, instance_id in enumerate(ids):
            assert host.post_question(_question(i, request_id=instance_id)).status_code == 202
        statuses = host.wait_all(ids, timeout_s)
        expected = {event_id_for(i, FAILED_EVENT_TYPE) for i in ids}
        lines = wait_for_lines(host.data_dir, lambda ls, ex=expected: ex <= {e["id"] for e in ls}, 30)
        delivered = _delivered(hook, expected, 30)
        kind_lost, kind_dup, _ = exactly_once(
            ids, statuses, lines, delivered, event_type=FAILED_EVENT_TYPE, expect="Failed"
        )
        hook.close()
        calls = [history_counts(host.history(i)).get("search_documents", 0) for i in ids]
        failed = {e["subject"]: e["data"] for e in lines if e["type"] == FAILED_EVENT_TYPE}
        notes[kind] = {
            "search_calls_per_question": sorted(set(calls)),
            "expected_calls": expected_calls,
            "attempts_in_failed_events": sorted({d["attempts"] for d in failed.values()}),
            "error_kinds": sorted({d["error_kind"] for d in failed.values()}),
            "error_messages": sorted({d["message"] for d in failed.values()})[:5],
            "completed_events": sum(1 for e in lines if e["type"] == COMPLETED_EVENT_TYPE),
            "tracebacks_in_events": sum("Traceback" in json.dumps(e) for e in lines),
        }
        host.stop()
        lost, duplicated = lost + kind_lost, duplicated + kind_dup
        errors += host.server_errors
        peak = max(peak, host.peak_kb / 1024)
    return Figures(
        "permanent failure (no retry storm)",
        f"2 × {questions} questions",
        lost,
        duplicated,
        errors,
        round(peak, 1),
        round(time.monotonic() - began, 1),
        notes,
    )


# -- duplicates -----------------------------------------------------------------------------------------------


def run_duplicates(
    workdir: Path, *, questions: int = 10, copies: int = 3, clients: int = 4, timeout_s: float = 120.0
) -> Figures:
    """Each queue message delivered `copies` times; each request_id POSTed by `clients` threads at once."""
    began = time.monotonic()
    hook = Webhook()
    host = Host(
        workdir / "data",
        {
            "PIPELINE_EVENT_WEBHOOKS": hook.url,
            "PIPELINE_FAULTS": "retrieval=slow:1:100",
            **FAST_RETRIES,
        },
        counted=workdir / "executions",
    ).start()
    queue_ids = [f"dup-q{i}" for i in range(questions)]
    http_ids = [f"dup-h{i}" for i in range(questions)]
    with host.queue() as queue:
        for copy in range(copies):
            for i, message_id in enumerate(queue_ids):
                queue.send(json.dumps(_question(i + copy)), message_id=message_id)  # same id, same run
    created: collections.Counter[str] = collections.Counter()
    answers: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    for i, request_id in enumerate(http_ids):
        barrier = threading.Barrier(clients)

        def post(request_id: str = request_id, i: int = i, barrier: threading.Barrier = barrier) -> None:
            with httpx.Client(timeout=10) as client:
                barrier.wait()
                response = host.post_question(_question(i, request_id=request_id), client=client)
            with lock:
                answers[response.status_code] += 1
                if response.status_code == 202 and response.json().get("created"):
                    created[request_id] += 1

        threads = [threading.Thread(target=post) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = queue_ids + http_ids
    statuses = host.wait_all(ids, timeout_s)
    expected = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    lines = wait_for_lines(host.data_dir, lambda ls: expected <= {e["id"] for e in ls}, 30)
    delivered = _delivered(hook, expected, 60)
    lost, duplicated, notes = exactly_once(ids, statuses, lines, delivered)
    hook.close()
    # One more copy of everything once every run has completed: the copies above all arrived while the first
    # run was in flight, and a finished question must not run again either.
    with host.queue() as queue:
        for i, message_id in enumerate(queue_ids):
            queue.send(json.dumps(_question(i)), message_id=message_id)
    late = [host.post_question(_question(i, request_id=request_id)) for i, request_id in enumerate(http_ids)]
    late_created = sum(1 for r in late if r.status_code == 202 and r.json().get("created"))
    deadline = time.monotonic() + 30
    while _active_messages(host) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # a run started again would have executed its first steps by now
    runs = read_executions(workdir / "executions")
    per_instance = collections.Counter(instance_id for instance_id, _, _ in runs.elements())
    executions = [per_instance[i] for i in ids]
    duplicated += sum(1 for n in executions if n > 4) + sum(1 for i in http_ids if created[i] != 1) + late_created
    notes.update(
        http_answers=dict(answers),
        created_per_request_id=sorted(set(created[i] for i in http_ids)),
        late_copies_created=late_created,
        activity_executions_per_instance=sorted(set(executions)),
        repeated_executions=repeats(runs),
        leftover_messages=_active_messages(host),
    )
    size = f"{questions} msgs × {copies} deliveries + {questions} ids × {clients} clients"
    return _finish(host, "duplicates", size, lost, duplicated, began, notes)


def _active_messages(host: Host) -> int:
    with host.queue() as queue:
        return queue.active_count()


# -- malformed queue messages ---------------------------------------------------------------------------------

MALFORMED_MESSAGES: dict[str, bytes] = {
    "not-json": b"this is not json",
    "truncated-json": b'{"question": "What is a task hub?"',
    "wrong-types": b'{"question": 42, "top_k": "three"}',
    "array": b'["What is a task hub?"]',
    "bare-string": b'"What is a task hub?"',
    "json-null": b"null",
    "huge-1mb": b'{"question": "' + b"x" * (1024 * 1024) + b'"}',
    "70kb": json.dumps({"question": "What is a task hub? " + "y" * (70 * 1024)}).encode(),
    "latin-1": '{"question": "Qu\'est-ce qu\'un café ?"}'.encode("latin-1"),
    "utf-16": '{"question": "What is a task hub?"}'.encode("utf-16"),
    "utf-8-bom": b'\xef\xbb\xbf{"question": "What is a task hub?"}',
    "empty": b"",
    "whitespace": b"  \n\t ",
    "deeply-nested-array": b"[" * 30_000 + b"]" * 30_000,
    "deeply-nested-object": b'{"question": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}",
    "raw-nul-byte": b'{"question": "What is\x00 a task hub?"}',
    "unknown-field": b'{"question": "What is a task hub?", "priority": "urgent"}',
    "null-question": b'{"question": null}',
    "null-top-k": b'{"question": "What is a task hub?", "top_k": null}',
    "blank-question": b'{"question": "    "}',
    "top-k-zero": b'{"question": "What is a task hub?", "top_k": 0}',
    "top-k-huge": b'{"question": "What is a task hub?", "top_k": 100000000000000000000000000000}',
    "top-k-4301-digits": b'{"question": "What is a task hub?", "top_k": 1' + b"0" * 4_300 + b"}",
    "top-k-nan": b'{"question": "What is a task hub?", "top_k": NaN}',
    "top-k-infinity": b'{"question": "What is a task hub?", "top_k": 1e400}',
    "bad-request-id": b'{"question": "What is a task hub?", "request_id": "../../etc/passwd"}',
    "metadata-not-strings": b'{"question": "What is a task hub?", "metadata": {"n": 1}}',
    "too-much-metadata": json.dumps(
        {"question": "What is a task hub?", "metadata": {f"k{i}": "v" for i in range(17)}}
    ).encode(),
    "lone-surrogate": b'{"question": "\\ud800 task hub?"}',
}


def _dead_letter_rows(host: Host) -> list[dict[str, Any]]:
    listing = host.server.cli("dead-letters", "--json")
    assert listing.returncode == 0, listing.stderr
    return json.loads(listing.stdout)


def run_bad_queue_input(workdir: Path, *, repeat: int = 1, timeout_s: float = 60.0) -> Figures:
    """Every malformed message is dead-lettered once with a reason (never retried to exhaustion, never lost)."""
    began = time.monotonic()
    host = Host(workdir / "data", dict(FAST_RETRIES)).start()
    sent: dict[str, bytes] = {}
    with host.queue() as queue:
        for round_ in range(repeat):
            for name, body in MALFORMED_MESSAGES.items():
                message_id = f"bad-{name}-{round_}"
                queue.send(body, message_id=message_id, content_type=None)
                sent[message_id] = body
    deadline = time.monotonic() + timeout_s
    rows = _dead_letter_rows(host)
    while len(rows) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.3)
        rows = _dead_letter_rows(host)
    by_id = {row["message_id"]: row for row in rows}
    with host.queue("questions-deadletter") as dlq:
        envelopes = [json.loads(m.body) for m in dlq.peek(max_messages=100_000)]
    delivery_counts = {e["message_id"]: e["delivery_count"] for e in envelopes}
    lost = sum(1 for mid in sent if mid not in by_id)
    started = sum(1 for mid in sent if host.status(mid) is not None)
    notes = {
        "sent": len(sent),
        "dead_lettered": len(by_id),
        "reasons": dict(collections.Counter(row["reason"] for row in rows)),
        "max_delivery_dead_letters": sum(1 for row in rows if row["reason"] == "MaxDeliveryCountExceeded"),
        "delivery_counts": sorted(set(delivery_counts.values())),
        "without_description": sum(1 for row in rows if not row.get("description")),
        "instances_started": started,
        "leftover_messages": _active_messages(host),
        "by_message": {mid: by_id.get(mid, {}).get("reason") for mid in sent},
    }
    size = f"{len(sent)} messages ({len(MALFORMED_MESSAGES)} kinds)"
    return _finish(host, "bad input (queue corpus)", size, lost, len(rows) - len(by_id), began, notes)


# -- load -----------------------------------------------------------------------------------------------------


def _event_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def run_load(workdir: Path, *, questions: int = 1000, timeout_s: float = 600.0) -> Figures:
    """`questions` messages on the queue, in two equal waves; latency is enqueue → the Completed event's time.

    The host's resident memory is read when each wave has completed: the first wave pays for the model and the
    sample index, so the growth over the second wave is what a leak per question would show.
    """
    began = time.monotonic()
    host = Host(workdir / "data", dict(FAST_RETRIES)).start()
    ids = [f"load-{i}" for i in range(questions)]
    waves = [ids[: questions // 2], ids[questions // 2 :]]
    sent_at: dict[str, float] = {}
    rss_after_wave: list[float] = []
    deadline = time.monotonic() + timeout_s
    lines: list[dict[str, Any]] = []
    offset = 0
    for wave in waves:
        with host.queue() as queue:
            for i, instance_id in enumerate(wave, start=offset):
                sent_at[instance_id] = time.time()
                queue.send(json.dumps(_question(i)), message_id=instance_id)
        offset += len(wave)
        expected = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in wave}
        lines = event_lines(host.data_dir)
        while not expected <= {e["id"] for e in lines} and time.monotonic() < deadline:
            host.sample_rss()
            time.sleep(0.5)
            lines = event_lines(host.data_dir)
        host.sample_rss()
        rss_after_wave.append(host.rss_mb())
    statuses = {i: s for i in ids if (s := host.status(i)) is not None}
    lost, duplicated, notes = exactly_once(ids, statuses, lines, None)
    completed = {
        e["subject"].removeprefix("pipeline/"): _event_time(e) for e in lines if e["type"] == COMPLETED_EVENT_TYPE
    }
    latencies = [completed[i] - sent_at[i] for i in ids if i in completed]
    warm = [i for i in waves[1] if i in completed]
    first, last = min((sent_at[i] for i in waves[1]), default=0.0), max((completed[i] for i in warm), default=0.0)
    notes.update(
        throughput_per_s=round(len(warm) / max(1e-9, last - first), 1),  # the second (warm) wave
        p50_latency_s=round(_percentile(latencies, 0.5), 2),
        p99_latency_s=round(_percentile(latencies, 0.99), 2),
        mean_latency_s=round(statistics.fmean(latencies), 2) if latencies else None,
        db_mb=round(sum(p.stat().st_size for p in host.data_dir.glob("durable.sqlite*")) / 2**20, 1),
        rss_mb_after_each_wave=rss_after_wave,
        rss_growth_mb_second_wave=round(rss_after_wave[-1] - rss_after_wave[0], 1),
    )
    return _finish(host, "load (queue)", f"{questions} questions", lost, duplicated, began, notes)


# -- a subscriber that is down --------------------------------------------------------------------------------


def run_webhook_outage(
    workdir: Path, *, questions: int = 5, down_s: float = 3.0, window_s: float = 2.0, timeout_s: float = 60.0
) -> Figures:
    """Phase 1: the subscriber is down for `down_s`, then up: every event arrives, after retries with backoff.
    Phase 2: a subscriber that never comes back: after the retry window each event is in events-undelivered.jsonl.
    """
    began = time.monotonic()
    port = free_port()
    receiver = Receiver(port)
    host = Host(workdir / "outage" / "data", {"PIPELINE_EVENT_WEBHOOKS": receiver.url, **FAST_RETRIES}).start()
    ids = [f"outage-{i}" for i in range(questions)]
    for i, instance_id in enumerate(ids):
        assert host.post_question(_question(i, request_id=instance_id)).status_code == 202
    statuses = host.wait_all(ids, timeout_s)
    went_down = time.time()
    time.sleep(down_s)
    attempts_while_down = _delivery_attempts(host.data_dir)
    receiver.start()
    came_up = time.time()
    expected = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    delivered = receiver.wait_for(expected, timeout_s)
    receiver.stop()
    lines = event_lines(host.data_dir)
    lost, duplicated, notes = exactly_once(ids, statuses, lines, delivered)
    undelivered_phase1 = (host.data_dir / "events-undelivered.jsonl").exists()
    arrivals = [e["_arrived"] - came_up for e in delivered]
    host.stop()

    dead_port = free_port()  # nothing will ever listen here
    never = Host(
        workdir / "never" / "data",
        {
            "PIPELINE_EVENT_WEBHOOKS": f"http://127.0.0.1:{dead_port}/events",
            "PIPELINE_EVENT_RETRY_WINDOW_S": str(window_s),
            **FAST_RETRIES,
        },
    ).start()
    never_ids = [f"never-{i}" for i in range(questions)]
    for i, instance_id in enumerate(never_ids):
        assert never.post_question(_question(i, request_id=instance_id)).status_code == 202
    never_statuses = never.wait_all(never_ids, timeout_s)
    undelivered_path = never.data_dir / "events-undelivered.jsonl"
    wanted = {event_id_for(i, COMPLETED_EVENT_TYPE) for i in never_ids}
    deadline = time.monotonic() + window_s + timeout_s
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if undelivered_path.exists():
            records = [json.loads(x) for x in undelivered_path.read_text().splitlines() if x.strip()]
            if wanted <= {r["event"]["id"] for r in records}:
                break
        time.sleep(0.2)
    kept = collections.Counter(r["event"]["id"] for r in records)
    never_lost = sum(1 for event_id in wanted if event_id not in kept)
    never_lost += sum(1 for i in never_ids if never_statuses.get(i, {}).get("runtime_status") != "Completed")
    notes.update(
        down_s=down_s,
        delivery_attempts_while_down=attempts_while_down,
        seconds_to_deliver_after_up=round(max(arrivals), 2) if arrivals else None,
        delivered_before_up=sum(1 for e in delivered if e["_arrived"] < came_up),
        undelivered_file_in_phase_1=undelivered_phase1,
        retry_window_s=window_s,
        kept_undelivered=len(kept),
        kept_twice=sum(1 for n in kept.values() if n > 1),
        reasons=sorted({r["reason"].split(";")[0] for r in records}),
        attempts_before_giving_up=sorted({r["attempts"] for r in records}),
        seconds_down_before_up=round(came_up - went_down, 2),
    )
    never.stop()
    figures = Figures(
        "webhook down, then back / never back",
        f"2 × {questions} events",
        lost + never_lost,
        duplicated + sum(1 for n in kept.values() if n > 1),
        host.server_errors + never.server_errors,
        round(max(host.peak_kb, never.peak_kb) / 1024, 1),
        round(time.monotonic() - began, 1),
        notes,
    )
    return figures


def _delivery_attempts(data_dir: Path) -> int:
    """Total POST attempts recorded in the event outbox (what the delivery worker tried so far)."""
    import sqlite3

    path = data_dir / "events.sqlite3"
    if not path.exists():
        return -1
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COALESCE(SUM(attempts), 0) FROM deliveries").fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        conn.close()


def pretty(figures: Figures) -> str:
    """One line for logs: the table columns, then the notes."""
    return (
        f"{figures.test} [{figures.size}]: lost={figures.lost} duplicated={figures.duplicated} "
        f"5xx={figures.server_errors} peak_rss={figures.peak_rss_mb}MB time={figures.seconds}s "
        f"{json.dumps({k: v for k, v in figures.notes.items() if k != 'by_message'}, default=str)}"
    )
