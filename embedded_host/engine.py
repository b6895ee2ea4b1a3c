"""The durable engine: orchestrator episodes, activity work items, timers, all in one SQLite file.

Shape (after the Durable Task Framework that the real extension runs on): events for an instance wait in
its inbox; an *episode* replays the
instance's history plus ``[OrchestratorStarted, new events]`` through the app's own orchestrator function (the
SDK), carries out the actions it returns, and commits everything it changed in one transaction. All episodes
that are ready when the loop wakes share one commit (batching is where the throughput comes from), and only
this loop writes the durable tables (a single writer, no lock contention).

Crash safety: inbox rows, work items and timers are deleted in the same transaction that appends the history
they turn into, so a kill -9 before a commit loses nothing (the rows are still there) and after it repeats
nothing. An activity result that arrives between commits lives in memory until the next one; if the process
dies first, the work item is still in the file and the activity runs again (at-least-once, as in Azure).

Episodes run on the event-loop thread: they are sub-millisecond, CPU-bound under the GIL, and a thread hop
would only add latency. Activities run on a bounded pool (threads for sync functions, tasks for async ones),
so the episode loop never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import sqlite3
import time
import traceback
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import HostConfigError
from .durable_http import HTTP_ACTIVITY, token_source_users
from .durable_http import perform as perform_http
from .entities import EntityHost, check_entities
from .executor import execute, handle_of
from .history import EventType, event
from .invoker import InvocationContext, call_function, decode_activity_input, encode_activity_output
from .loader import FunctionSpec, LoadedApp
from .queries import InstanceQuery, page_of_ids, selected_ids
from .replay import EngineState
from .rewind import SCHEDULING, RewindPlan, RewindRefusedError, completed_ids, failed_retries, rewrite_history
from .status import read_status
from .store import connect
from .suborchestrations import ParentLink, SubOrchestrations, completion_event, default_instance_id
from .timeutil import install_parse_cache, iso_utc, now_utc, parse_iso, status_time

__all__ = ["TERMINAL_STATUSES", "DurableEngine", "InstanceExistsError", "OrchestratorNotFoundError"]

log = logging.getLogger("embedded_host.engine")

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
# Suspended instances stay loaded: their events are held in the inbox until a resume (or terminate) arrives.
_LIVE = ("Pending", "Running", "Suspended")
_CONTROL = frozenset({EventType.EXECUTION_TERMINATED, EventType.EXECUTION_SUSPENDED})
_LEASE_S = 300.0


class OrchestratorNotFoundError(LookupError):
    """``start`` named a function that is not an orchestrator of this app."""


class InstanceExistsError(RuntimeError):
    """``start`` named an instance id that is still running."""


class _Instance:
    """A running instance, kept in memory between episodes (its history as ready-made JSON text)."""

    __slots__ = (
        "custom_status",
        "execution_id",
        "id",
        "input",
        "name",
        "parent",
        "parts",
        "pending",
        "persisted",
        "state",
        "status",
    )

    def __init__(
        self, instance_id: str, name: str, execution_id: str, status: str, input_text: str | None, state: EngineState
    ) -> None:
        self.id = instance_id
        self.name = name
        self.execution_id = execution_id
        self.status = status
        self.input = input_text
        self.custom_status: str | None = None
        self.parts: list[str] = []  # history events as JSON text (IsPlayed: true)
        self.pending: deque[tuple[dict[str, Any], int | None]] = deque()  # (event, inbox row id or None)
        self.state = state
        self.persisted = 0  # history rows already in the file
        self.parent: str | None = None  # the parent instance of a sub-orchestration


class _Commit:
    """Side effects to start once the tick's transaction has committed."""

    def __init__(self) -> None:
        self.work: list[tuple[int, str, str, int, str, str | None]] = []
        self.timers: list[tuple[float, int, str, str, int, str]] = []
        self.finished: list[str] = []


class DurableEngine:
    """Runs the app's orchestrations and activities; the HTTP layer calls its client operations."""

    def __init__(
        self, app: LoadedApp, db_path: Path, *, owner: str | None = None, activity_grace_s: float = 10.0
    ) -> None:
        install_parse_cache()
        entity_functions = check_entities(app)  # refuses at start-up, before the file is opened
        if refused := token_source_users((f.name, f.func) for f in app.of_kind("orchestration")):
            raise HostConfigError(
                f"orchestrator {', '.join(refused)}: call_http with a managed-identity token_source cannot run on "
                "the embedded host (there is no managed identity locally); send an Authorization header instead"
            )
        self.app = app
        self.db_path = Path(db_path)
        self.owner = owner or uuid.uuid4().hex
        self.activity_grace_s = activity_grace_s
        self.conn: sqlite3.Connection = connect(self.db_path)
        self._subs = SubOrchestrations(self.conn)
        self._orchestrators = {f.name: f for f in app.of_kind("orchestration")}
        self._activities = {f.name: f for f in app.of_kind("activity")}
        limit = app.config.max_concurrent_activities
        self._executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="activity")
        self._sem = asyncio.Semaphore(limit)
        self._running: dict[str, _Instance] = {}
        self._ready: set[str] = set()
        self._staged: list[tuple[int, str, str, dict[str, Any]]] = []
        self._timers: list[tuple[float, int, str, str, int, str]] = []
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}
        self._activity_tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.entities = EntityHost(entity_functions, self.conn, self._wake.set)
        self.episodes = 0
        self.commits = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reload running instances, re-lease every work item (the previous owner is gone) and start the loop."""
        work = self._recover()
        self._loop_task = asyncio.create_task(self._run(), name="durable-engine")
        for item in work:
            self._dispatch(item)
        if self._ready or self._timers:
            self._wake.set()

    async def stop(self) -> None:
        """Let in-flight activities finish (up to the grace period), commit their results, stop."""
        self._stopping = True
        if self._activity_tasks:
            _done, pending = await asyncio.wait(set(self._activity_tasks), timeout=self.activity_grace_s)
            for task in pending:  # their work items stay leased in the file and run again after a restart
                task.cancel()
        if self._loop_task is not None:
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._loop_task), 5.0)
            except TimeoutError:
                self._loop_task.cancel()
        if self._staged:
            self._tick()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.conn.close()

    # -- client operations (HTTP layer, event-loop thread) ---------------------------------------------------
    def start_instance(self, name: str, instance_id: str | None, input_text: str | None) -> str:
        """Create an instance (or overwrite a finished one) and queue its ``ExecutionStarted``."""
        if name not in self._orchestrators:
            raise OrchestratorNotFoundError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: the following are the known orchestrator functions: "
                f"{', '.join(sorted(self._orchestrators)) or '(none)'}."
            )
        instance_id = instance_id or uuid.uuid4().hex
        execution_id = uuid.uuid4().hex
        now = now_utc()
        started = event(
            EventType.EXECUTION_STARTED,
            iso_utc(now),
            Name=name,
            Version="",
            Input=input_text,
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
            ParentInstance=None,
            Generation=0,
        )
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT runtime_status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
            if row is not None and row[0] not in TERMINAL_STATUSES:
                raise InstanceExistsError(f"An Orchestration instance with the status {row[0]} already exists.")
            if row is not None:  # a finished instance is overwritten and runs again, as in Azure
                self._purge_rows(instance_id)
            conn.execute(
                "INSERT INTO instances (instance_id, name, runtime_status, input, created_time, last_updated_time,"
                " execution_id, engine_state) VALUES (?, ?, 'Pending', ?, ?, ?, ?, '{}')",
                (instance_id, name, input_text, status_time(now), status_time(now), execution_id),
            )
            cur = conn.execute(
                "INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (instance_id, json.dumps(started))
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        inst = _Instance(instance_id, name, execution_id, "Pending", input_text, EngineState())
        inst.pending.append((started, cur.lastrowid))
        self._running[instance_id] = inst
        self._mark_ready(instance_id)
        return instance_id

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> int:
        """Queue an ``EventRaised``; returns the HTTP status the extension answers (202, 404, 410)."""
        ev = event(EventType.EVENT_RAISED, iso_utc(now_utc()), Name=name, Input=input_text)
        return self._enqueue(instance_id, ev)

    def terminate(self, instance_id: str, reason: str | None) -> int:
        """Queue a termination; returns 202, 404 or 410 (already finished) as the extension does."""
        ev = event(EventType.EXECUTION_TERMINATED, iso_utc(now_utc()), Input=reason)
        return self._enqueue(instance_id, ev)

    def suspend(self, instance_id: str, reason: str | None) -> int:
        """Queue an ``ExecutionSuspended``; returns 202, 404 or 410 as the extension does."""
        return self._enqueue(instance_id, event(EventType.EXECUTION_SUSPENDED, iso_utc(now_utc()), Reason=reason))

    def resume(self, instance_id: str, reason: str | None) -> int:
        """Queue an ``ExecutionResumed``; returns 202, 404 or 410 as the extension does."""
        return self._enqueue(instance_id, event(EventType.EXECUTION_RESUMED, iso_utc(now_utc()), Reason=reason))

    def _enqueue(self, instance_id: str, ev: dict[str, Any]) -> int:
        inst = self._running.get(instance_id)
        if inst is None:
            row = self.conn.execute(
                "SELECT runtime_status FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            return 404 if row is None else 410
        cur = self.conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (instance_id, json.dumps(ev)))
        inst.pending.append((ev, cur.lastrowid))
        self._mark_ready(instance_id)
        return 202

    def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        """The status JSON the extension returns, or None when the instance does not exist."""
        return read_status(
            self.conn,
            instance_id,
            show_history=show_history,
            show_history_output=show_history_output,
            show_input=show_input,
        )

    def list_statuses(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT instance_id FROM instances ORDER BY created_time").fetchall()
        return [s for (iid,) in rows if (s := self.get_status(iid, show_input=False)) is not None]

    def query_instances(self, query: InstanceQuery) -> tuple[list[dict[str, Any]], str]:
        """One page of statuses matching ``query``, newest first, and the next page's token ('' at the end)."""
        ids, token = page_of_ids(self.conn, query)
        statuses = [read_status(self.conn, iid, show_input=query.show_input) for iid in ids]
        return [s for s in statuses if s is not None], token

    def purge(self, instance_id: str) -> int:
        """Delete a finished instance's state; returns how many instances were deleted."""
        if instance_id in self._running:
            return 0
        return self.purge_many([instance_id])

    def purge_where(self, query: InstanceQuery) -> int:
        """Delete every finished instance the filter selects (as the extension, never a running one)."""
        return self.purge_many(selected_ids(self.conn, query, sorted(TERMINAL_STATUSES)))

    def purge_many(self, instance_ids: list[str]) -> int:
        ids = [i for i in instance_ids if i not in self._running]
        if not ids:
            return 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            count = sum(self._purge_rows(iid) for iid in ids)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return count

    def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Start the instance's orchestrator again with its original input; returns the new run's id.

        With ``new_instance_id`` false the same id is reused, which only works once the instance has finished
        (``InstanceExistsError`` otherwise). An unknown instance raises ``LookupError``.
        """
        row = self.conn.execute("SELECT name, input FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        if row is None:
            raise LookupError(f"No orchestration instance has the id '{instance_id[:100]}'.")
        name, input_text = row
        return self.start_instance(name, None if new_instance_id else instance_id, input_text)

    def rewind(self, instance_id: str, reason: str | None) -> int:
        """Run a failed instance again from before its failures (see rewind.py); answers 202, 404 or 410.

        Failed children are rewound with it, all in one transaction. Raises ``RewindRefusedError`` when this
        host cannot rewind the instance (nothing is changed then).
        """
        row = self.conn.execute("SELECT runtime_status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        if row is None:
            return 404
        if row[0] != "Failed":
            return 410
        plans: list[RewindPlan] = []
        self._plan_rewind(instance_id, reason, plans)
        commit = _Commit()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for plan in plans:
                self._apply_rewind(plan, reason, commit)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            for item in self._recover():  # memory follows the file again
                self._dispatch(item)
            raise
        for item in commit.work:
            self._dispatch(item)
        for entry in commit.timers:
            heapq.heappush(self._timers, entry)
        self._wake.set()
        return 202

    async def wait_for_completion(self, instance_id: str, timeout: float) -> dict[str, Any] | None:
        """Wait until the instance reaches a terminal status (or the timeout) and return its status."""
        status = self.get_status(instance_id)
        if status is None or status["runtimeStatus"] in TERMINAL_STATUSES:
            return status
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiters = self._waiters.get(instance_id)
            if waiters and future in waiters:
                waiters.remove(future)
        return self.get_status(instance_id)

    def _purge_rows(self, instance_id: str) -> int:
        for table in ("history", "inbox", "work_items", "timers"):
            self.conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))
        self._subs.forget(instance_id)
        return self.conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,)).rowcount

    def _mark_ready(self, instance_id: str) -> None:
        self._ready.add(instance_id)
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        # Stopping is a flag, not a cancel: on Python 3.11 `wait_for` can swallow a cancellation that races
        # with the wake-up it is waiting for.
        while not self._stopping:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.time())
            if timeout is None or timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            # Let completions that are already due land in this batch, so one commit carries them all.
            await asyncio.sleep(0)
            try:
                self._tick()
            except Exception:
                log.exception("engine tick failed; reloading state from %s", self.db_path)
                work = self._recover()
                for item in work:
                    self._dispatch(item)

    def _tick(self) -> None:
        if not (
            self._staged or self._ready or self.entities.ready or (self._timers and self._timers[0][0] <= time.time())
        ):
            return
        commit = _Commit()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            touched: dict[str, _Instance] = {}
            staged, self._staged = self._staged, []
            for row_id, instance_id, execution_id, ev in staged:
                inst = self._running.get(instance_id)
                gone = not conn.execute("DELETE FROM work_items WHERE id = ?", (row_id,)).rowcount
                if gone or inst is None or inst.execution_id != execution_id:
                    continue  # the instance finished, was terminated or restarted: drop the late result
                inst.pending.append((ev, None))
                touched[instance_id] = inst
            now = time.time()
            while self._timers and self._timers[0][0] <= now:
                _fire, row_id, instance_id, execution_id, timer_id, fire_text = heapq.heappop(self._timers)
                inst = self._running.get(instance_id)
                gone = not conn.execute("DELETE FROM timers WHERE id = ?", (row_id,)).rowcount
                if gone or inst is None or inst.execution_id != execution_id:
                    continue
                inst.pending.append(
                    (event(EventType.TIMER_FIRED, iso_utc(now_utc()), TimerId=timer_id, FireAt=fire_text), None)
                )
                touched[instance_id] = inst
            ready, self._ready = self._ready, set()
            for instance_id in ready:
                if (inst := self._running.get(instance_id)) is not None:
                    touched[instance_id] = inst
            for inst in touched.values():
                self._process(inst, commit)
            self.entities.run(self._enqueue)  # answers land in callers' inboxes, replayed next tick
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        for item in commit.work:
            self._dispatch(item)
        for entry in commit.timers:
            heapq.heappush(self._timers, entry)
        for instance_id in commit.finished:
            for future in self._waiters.pop(instance_id, []):
                if not future.done():
                    future.set_result(instance_id)

    def _process(self, inst: _Instance, commit: _Commit) -> None:
        """Run episodes until the instance has no new events (or finishes, or is suspended)."""
        conn = self.conn
        while inst.pending and inst.status in _LIVE:
            if inst.status == "Suspended" and not self._take_resume(inst):
                break  # everything else stays held in the inbox until a resume
            first = inst.pending[0][0]
            if first["EventType"] == EventType.EXECUTION_TERMINATED:
                inst.pending.popleft()
                self._finish(inst, commit, "Terminated", first.get("Input"), None, [])
                break
            if first["EventType"] == EventType.EXECUTION_SUSPENDED:
                self._suspend(inst, inst.pending.popleft())
                continue
            batch: list[tuple[dict[str, Any], int | None]] = []
            for item in inst.pending:
                ev = item[0]
                if ev["EventType"] in _CONTROL:
                    break
                if inst.state.is_retry_event(ev):
                    if not batch:
                        batch.append(item)
                    break  # see replay.py: a retry event replays alone so hidden ids stay in step
                batch.append(item)
            for _ in batch:
                inst.pending.popleft()
            self._episode(inst, batch, commit)
        if inst.status not in _LIVE:
            return
        # Events that arrived straight from memory (activity results, timers) but were not replayed yet
        # must not live only in memory past this commit.
        for index, (ev, inbox_id) in enumerate(inst.pending):
            if inbox_id is None:
                cur = conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (inst.id, json.dumps(ev)))
                inst.pending[index] = (ev, cur.lastrowid)

    def _take_resume(self, inst: _Instance) -> bool:
        """For a suspended instance: bring the first resume or terminate to the front of its new events.

        The events held before it then follow the ``ExecutionResumed`` into the same episode, which is where
        the orchestrator sees them (DTFx replays held events right after the resume). A second suspend that
        arrived while suspended changes nothing and is dropped. False when there is nothing to wake for.
        """
        for index, (ev, inbox_id) in enumerate(inst.pending):
            etype = ev["EventType"]
            if etype == EventType.EXECUTION_SUSPENDED:
                continue
            if etype in (EventType.EXECUTION_RESUMED, EventType.EXECUTION_TERMINATED):
                held = [
                    item for item in list(inst.pending)[:index] if item[0]["EventType"] != EventType.EXECUTION_SUSPENDED
                ]
                dropped = [
                    i
                    for e, i in list(inst.pending)[:index]
                    if e["EventType"] == EventType.EXECUTION_SUSPENDED and i is not None
                ]
                if dropped:
                    self.conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in dropped])
                rest = list(inst.pending)[index + 1 :]
                inst.pending = deque([(ev, inbox_id), *held, *rest])
                if etype == EventType.EXECUTION_RESUMED:
                    inst.status = "Running"
                return True
        return False

    def _suspend(self, inst: _Instance, item: tuple[dict[str, Any], int | None]) -> None:
        """Record ``ExecutionSuspended`` in an episode of its own (the orchestrator has nothing new to see)."""
        ev, inbox_id = item
        if inbox_id is not None:
            self.conn.execute("DELETE FROM inbox WHERE id = ?", (inbox_id,))
        now = now_utc()
        stamp = iso_utc(now)
        self._append_history(
            inst, [event(EventType.ORCHESTRATOR_STARTED, stamp), ev, event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
        )
        inst.status = "Suspended"
        self.conn.execute(
            "UPDATE instances SET runtime_status = 'Suspended', last_updated_time = ? WHERE instance_id = ?",
            (status_time(now), inst.id),
        )

    def _episode(self, inst: _Instance, batch: list[tuple[dict[str, Any], int | None]], commit: _Commit) -> None:
        self.episodes += 1
        conn = self.conn
        now = now_utc()
        stamp = iso_utc(now)
        new_events = [event(EventType.ORCHESTRATOR_STARTED, stamp)] + [ev for ev, _ in batch]
        inbox_ids = [inbox_id for _, inbox_id in batch if inbox_id is not None]
        if inbox_ids:
            conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in inbox_ids])
        if new_events[1]["EventType"] == EventType.EXECUTION_STARTED and inst.status == "Pending":
            inst.status = "Running"
        spec = self._orchestrators.get(inst.name)
        if spec is None:
            message = f"The orchestrator function '{inst.name}' does not exist in this app."
            self._finish(
                inst, commit, "Failed", message, message, [*new_events, event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
            )
            return
        result = execute(
            handle_of(spec.func, spec.trigger_name),
            inst.state,
            name=inst.name,
            instance_id=inst.id,
            input_text=inst.input,
            old_parts=inst.parts,
            new_events=new_events,
            now=now,
            parent_instance_id=inst.parent,
        )
        if result.sdk_state is not None:
            custom = result.custom_status
            inst.custom_status = json.dumps(custom) if custom is not None else None
        if result.status != "Failed" and (missing := self.entities.missing_target(result.scheduled)):
            # The extension checks the entity function exists when the orchestrator sends to it, and fails it.
            message = f"Orchestrator function '{inst.name}' failed: {missing}"
            self._finish(
                inst, commit, "Failed", message, message, [*new_events, event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
            )
            return
        if result.continue_as_new is not None:
            for ev in result.scheduled:  # entity messages of the last episode still go out, as in DTFx
                if ev["EventType"] == EventType.EVENT_SENT:
                    self.entities.send(ev)
            self._continue_as_new(inst, result.continue_as_new, new_events, commit)
            return
        appended = list(new_events)
        if result.status != "Failed":  # a failed episode's actions are never carried out
            for ev in result.scheduled:
                appended.append(ev)
                if ev["EventType"] == EventType.TASK_SCHEDULED:
                    self._add_work(inst, ev["EventId"], ev["Name"], ev.get("Input"), commit)
                elif ev["EventType"] == EventType.EVENT_SENT:
                    self.entities.send(ev)
                elif ev["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED:
                    self._start_child(inst, ev, now)
                else:
                    self._add_timer(inst, ev["EventId"], ev["FireAt"], commit)
        appended.append(event(EventType.ORCHESTRATOR_COMPLETED, stamp))
        if result.status is not None:
            failure = result.output if result.status == "Failed" else None
            self._finish(inst, commit, result.status, result.output, failure, appended)
            return
        self._append_history(inst, appended)
        conn.execute(
            "UPDATE instances SET runtime_status = ?, custom_status = ?, last_updated_time = ?, engine_state = ?"
            " WHERE instance_id = ?",
            (inst.status, inst.custom_status, status_time(now), json.dumps(inst.state.to_json()), inst.id),
        )

    def _continue_as_new(
        self, inst: _Instance, action: dict[str, Any], appended: list[dict[str, Any]], commit: _Commit
    ) -> None:
        conn = self.conn
        for table in ("history", "work_items", "timers"):
            conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (inst.id,))
        inst.execution_id = uuid.uuid4().hex
        inst.input = action.get("input")
        inst.state = EngineState()
        inst.parts = []
        inst.persisted = 0
        started = event(
            EventType.EXECUTION_STARTED,
            iso_utc(now_utc()),
            Name=inst.name,
            Version="",
            Input=inst.input,
            OrchestrationInstance={"InstanceId": inst.id, "ExecutionId": inst.execution_id},
            ParentInstance=self._parent_instance(inst),
            Generation=0,
        )
        inst.pending.appendleft((started, None))  # unprocessed raised events carry over, as DTFx preserves them
        conn.execute(
            "UPDATE instances SET runtime_status = 'Running', input = ?, custom_status = ?, output = NULL,"
            " last_updated_time = ?, execution_id = ?, engine_state = '{}' WHERE instance_id = ?",
            (inst.input, inst.custom_status, status_time(now_utc()), inst.execution_id, inst.id),
        )

    def _finish(
        self,
        inst: _Instance,
        commit: _Commit,
        status: str,
        output: Any,
        failure: str | None,
        appended: list[dict[str, Any]],
    ) -> None:
        conn = self.conn
        stamp = iso_utc(now_utc())
        output_text = json.dumps(output) if output is not None else None
        if status == "Terminated":
            appended.append(event(EventType.EXECUTION_TERMINATED, stamp, Input=output))
        else:
            appended.append(
                event(
                    EventType.EXECUTION_COMPLETED,
                    stamp,
                    OrchestrationStatus=status,
                    Result=output_text,
                    FailureDetails=failure,
                )
            )
        self._append_history(inst, appended)
        inst.status = status
        for table in ("inbox", "work_items", "timers"):
            conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (inst.id,))
        conn.execute(
            "UPDATE instances SET runtime_status = ?, output = ?, custom_status = ?, failure = ?,"
            " last_updated_time = ?, engine_state = ? WHERE instance_id = ?",
            (
                status,
                output_text,
                inst.custom_status,
                failure,
                status_time(now_utc()),
                json.dumps(inst.state.to_json()),
                inst.id,
            ),
        )
        inst.pending.clear()
        self._running.pop(inst.id, None)
        commit.finished.append(inst.id)
        if inst.parent is not None:
            self._answer_parent(inst, status, output_text, failure if status != "Terminated" else output)

    # -- sub-orchestrations (semantics in suborchestrations.py) ----------------------------------------------
    def _start_child(self, parent: _Instance, ev: dict[str, Any], now: datetime) -> None:
        """Create the child of a ``SubOrchestrationInstanceCreated`` inside the tick's transaction."""
        task_id, name = int(ev["EventId"]), str(ev["Name"])
        child_id = ev.get("InstanceId") or default_instance_id(parent.execution_id, task_id)
        ev["InstanceId"] = child_id
        refusal = self._child_refusal(parent, name, child_id)
        if refusal is not None:  # the parent's task fails at once, where its code can catch it
            parent.pending.append(
                (
                    event(
                        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                        iso_utc(now),
                        TaskScheduledId=task_id,
                        Reason=refusal,
                        Details=None,
                    ),
                    None,
                )
            )
            return
        conn = self.conn
        if conn.execute("SELECT 1 FROM instances WHERE instance_id = ?", (child_id,)).fetchone():
            self._purge_rows(child_id)  # a finished instance of that id is overwritten, as by a client start
        link = ParentLink(parent.id, parent.execution_id, parent.name, task_id)
        execution_id = uuid.uuid4().hex
        started = event(
            EventType.EXECUTION_STARTED,
            iso_utc(now),
            Name=name,
            Version="",
            Input=ev.get("Input"),
            OrchestrationInstance={"InstanceId": child_id, "ExecutionId": execution_id},
            ParentInstance=link.as_parent_instance(),
            Generation=0,
        )
        conn.execute(
            "INSERT INTO instances (instance_id, name, runtime_status, input, created_time, last_updated_time,"
            " execution_id, engine_state) VALUES (?, ?, 'Pending', ?, ?, ?, ?, '{}')",
            (child_id, name, ev.get("Input"), status_time(now), status_time(now), execution_id),
        )
        cur = conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (child_id, json.dumps(started)))
        self._subs.link(child_id, link)
        child = _Instance(child_id, name, execution_id, "Pending", ev.get("Input"), EngineState())
        child.parent = parent.id
        child.pending.append((started, cur.lastrowid))
        self._running[child_id] = child
        self._mark_ready(child_id)

    def _child_refusal(self, parent: _Instance, name: str, child_id: str) -> str | None:
        if name not in self._orchestrators:
            return (
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: the following are the known orchestrator functions: "
                f"{', '.join(sorted(self._orchestrators)) or '(none)'}."
            )
        if child_id.lower() in (parent.id.lower(), (parent.parent or "").lower()):
            return (
                "The instance ID of a sub-orchestration must be different than the instance ID of a parent "
                "orchestration."
            )
        if (other := self._running.get(child_id)) is not None:
            return f"An Orchestration instance with the status {other.status} already exists."
        return None

    def _parent_instance(self, inst: _Instance) -> dict[str, Any] | None:
        link = self._subs.parent_of(inst.id) if inst.parent is not None else None
        return link.as_parent_instance() if link is not None else None

    def _answer_parent(self, child: _Instance, status: str, output_text: str | None, detail: Any) -> None:
        """Queue the child's outcome for the parent execution that asked (dropped if that one has ended)."""
        link = self._subs.parent_of(child.id)
        parent = self._running.get(link.instance_id) if link is not None else None
        if link is None or parent is None or parent.execution_id != link.execution_id:
            return
        ev = completion_event(
            link, status, output_text, detail if isinstance(detail, str) else None, iso_utc(now_utc())
        )
        cur = self.conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (parent.id, json.dumps(ev)))
        parent.pending.append((ev, cur.lastrowid))
        self._mark_ready(parent.id)

    def _append_history(self, inst: _Instance, events: list[dict[str, Any]]) -> None:
        rows = []
        for ev in events:
            ev["IsPlayed"] = True  # from the next episode on, these are replayed
            text = json.dumps(ev)
            inst.parts.append(text)
            rows.append((inst.id, inst.persisted, text))
            inst.persisted += 1
        self.conn.executemany("INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)", rows)

    def _add_work(self, inst: _Instance, task_id: int, name: str, raw_input: str | None, commit: _Commit) -> None:
        cur = self.conn.execute(
            "INSERT INTO work_items (instance_id, execution_id, task_id, name, input, lease_owner, lease_expires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (inst.id, inst.execution_id, task_id, name, raw_input, self.owner, time.time() + _LEASE_S),
        )
        commit.work.append((int(cur.lastrowid or 0), inst.id, inst.execution_id, task_id, name, raw_input))

    def _add_timer(self, inst: _Instance, timer_id: int, fire_at: str, commit: _Commit) -> None:
        try:
            due = parse_iso(fire_at).timestamp()
        except ValueError:
            due = time.time()
        cur = self.conn.execute(
            "INSERT INTO timers (instance_id, execution_id, timer_id, fire_at, fire_at_text) VALUES (?, ?, ?, ?, ?)",
            (inst.id, inst.execution_id, timer_id, due, fire_at),
        )
        commit.timers.append((due, int(cur.lastrowid or 0), inst.id, inst.execution_id, timer_id, fire_at))

    # -- rewind (what is undone: rewind.py) ------------------------------------------------------------------
    def _plan_rewind(self, instance_id: str, reason: str | None, plans: list[RewindPlan]) -> None:
        """Replay the instance's rewritten history from scratch to learn what must run again (no writes)."""
        name, execution_id, input_text, custom = self.conn.execute(
            "SELECT name, execution_id, input, custom_status FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        spec = self._orchestrators.get(name)
        if spec is None:
            raise RewindRefusedError(f"The orchestrator function '{name}' does not exist in this app.")
        original = [
            json.loads(r[0])
            for r in self.conn.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
        ]
        events = rewrite_history(original, reason)
        link = self._subs.parent_of(instance_id)
        plan = RewindPlan(
            instance_id, name, execution_id, input_text, custom, link.instance_id if link else None, events
        )
        result = execute(
            handle_of(spec.func, spec.trigger_name),
            plan.state,
            name=name,
            instance_id=instance_id,
            input_text=input_text,
            old_parts=[],
            new_events=events,
            now=now_utc(),
            parent_instance_id=plan.parent,
        )
        if retried := failed_retries(plan.state, original):
            raise RewindRefusedError(
                f"Rewind of '{instance_id}' is not supported by the embedded host: a call_activity_with_retry or "
                f"call_sub_orchestrator_with_retry (task {retried[0]}) has failed attempts, whose retry ids "
                "cannot be replayed back."
            )
        done = completed_ids(events)
        recorded = {int(ev["EventId"]): ev for ev in events if ev.get("EventType") in SCHEDULING}
        for ev in result.scheduled:
            task_id = int(ev["EventId"])
            if task_id in done:
                continue
            old = recorded.get(task_id)
            if ev["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED and old is not None:
                child = self.conn.execute(
                    "SELECT runtime_status, output FROM instances WHERE instance_id = ?", (old["InstanceId"],)
                ).fetchone()
                if child is not None and child[0] == "Failed":
                    self._plan_rewind(old["InstanceId"], reason, plans)
                elif child is not None and child[0] == "Completed":  # finished after the parent had failed
                    plan.answers.append(
                        event(
                            EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                            iso_utc(now_utc()),
                            TaskScheduledId=task_id,
                            Result=child[1],
                        )
                    )
                elif child is None or child[0] in TERMINAL_STATUSES:
                    plan.children.append(dict(old))
                continue
            if old is None:
                plan.events.append(ev)  # taken in the failing episode, never carried out
            if ev["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED:
                plan.children.append(ev)
            elif ev["EventType"] == EventType.TASK_SCHEDULED:
                plan.work.append((task_id, ev["Name"], ev.get("Input")))
            else:
                plan.timers.append((task_id, ev["FireAt"]))
        plans.append(plan)

    def _apply_rewind(self, plan: RewindPlan, reason: str | None, commit: _Commit) -> None:
        conn = self.conn
        now = now_utc()
        conn.execute("DELETE FROM history WHERE instance_id = ?", (plan.instance_id,))
        inst = _Instance(plan.instance_id, plan.name, plan.execution_id, "Running", plan.input, plan.state)
        inst.custom_status, inst.parent = plan.custom, plan.parent
        self._running[inst.id] = inst
        for created in plan.children:
            self._start_child(inst, created, now)  # names it in the history event it was given
        for index, (ev, inbox_id) in enumerate(inst.pending):  # a refused child's failure, kept in the file
            if inbox_id is None:
                cur = conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (inst.id, json.dumps(ev)))
                inst.pending[index] = (ev, cur.lastrowid)
        self._append_history(inst, plan.events)
        for task_id, name, raw_input in plan.work:
            self._add_work(inst, task_id, name, raw_input, commit)
        for timer_id, fire_at in plan.timers:
            self._add_timer(inst, timer_id, fire_at, commit)
        marker = event(EventType.GENERIC_EVENT, iso_utc(now), Data=json.dumps({"Rewound": True, "Reason": reason}))
        for ev in [*plan.answers, marker]:
            cur = conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (inst.id, json.dumps(ev)))
            inst.pending.append((ev, cur.lastrowid))
        conn.execute(
            "UPDATE instances SET runtime_status = 'Running', output = NULL, failure = NULL, last_updated_time = ?,"
            " engine_state = ? WHERE instance_id = ?",
            (status_time(now), json.dumps(inst.state.to_json()), inst.id),
        )
        self._mark_ready(inst.id)

    # -- activities ------------------------------------------------------------------------------------------
    def _dispatch(self, item: tuple[int, str, str, int, str, str | None]) -> None:
        if self._stopping:
            return  # stays in the file; runs after the next start
        task = asyncio.create_task(self._run_activity(*item))
        self._activity_tasks.add(task)
        task.add_done_callback(self._activity_tasks.discard)

    async def _run_activity(
        self, row_id: int, instance_id: str, execution_id: str, task_id: int, name: str, raw_input: str | None
    ) -> None:
        async with self._sem:
            if self._stopping:
                return
            spec = self._activities.get(name)
            try:
                if spec is None and name != HTTP_ACTIVITY:
                    raise LookupError(
                        f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
                    )
                value = decode_activity_input(raw_input)
                context = InvocationContext(name, self.app.app_dir)
                result = await (
                    perform_http(raw_input)
                    if name == HTTP_ACTIVITY
                    else _call_activity(spec, value, self._executor, context)
                )  # type: ignore[arg-type]
                ev = event(
                    EventType.TASK_COMPLETED,
                    iso_utc(now_utc()),
                    TaskScheduledId=task_id,
                    Result=encode_activity_output(result),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                details = json.dumps(
                    {"Message": f"{type(exc).__name__}: {exc}", "StackTrace": "".join(traceback.format_exception(exc))}
                )
                ev = event(
                    EventType.TASK_FAILED,
                    iso_utc(now_utc()),
                    TaskScheduledId=task_id,
                    Reason=f"Activity function '{name}' failed: {type(exc).__name__}: {exc}",
                    Details=details,
                )
        self._staged.append((row_id, instance_id, execution_id, ev))
        self._wake.set()

    # -- recovery --------------------------------------------------------------------------------------------
    def _recover(self) -> list[tuple[int, str, str, int, str, str | None]]:
        """Rebuild memory from the file: running instances, their history and inbox, timers, work items."""
        conn = self.conn
        self._running.clear()
        self._timers.clear()
        self._staged.clear()
        rows = conn.execute(
            "SELECT instance_id, name, execution_id, runtime_status, input, custom_status, engine_state"
            " FROM instances WHERE runtime_status IN ('Pending', 'Running', 'Suspended')"
        ).fetchall()
        for instance_id, name, execution_id, status, input_text, custom, engine_state in rows:
            inst = _Instance(
                instance_id,
                name,
                execution_id,
                status,
                input_text,
                EngineState.from_json(json.loads(engine_state or "{}")),
            )
            inst.custom_status = custom
            if (link := self._subs.parent_of(instance_id)) is not None:
                inst.parent = link.instance_id
            inst.parts = [
                r[0]
                for r in conn.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
            ]
            inst.persisted = len(inst.parts)
            for inbox_id, text in conn.execute(
                "SELECT id, event FROM inbox WHERE instance_id = ? ORDER BY id", (instance_id,)
            ):
                inst.pending.append((json.loads(text), inbox_id))
            self._running[instance_id] = inst
            if inst.pending:
                self._ready.add(instance_id)
        for row_id, instance_id, execution_id, timer_id, due, text in conn.execute(
            "SELECT id, instance_id, execution_id, timer_id, fire_at, fire_at_text FROM timers"
        ):
            heapq.heappush(self._timers, (due, row_id, instance_id, execution_id, timer_id, text))
        self.entities.recover()
        conn.execute(
            "UPDATE work_items SET lease_owner = ?, lease_expires = ?, attempts = attempts + 1",
            (self.owner, time.time() + _LEASE_S),
        )
        return [
            tuple(r)
            for r in conn.execute(  # type: ignore[misc]
                "SELECT id, instance_id, execution_id, task_id, name, input FROM work_items ORDER BY id"
            )
        ]


async def _call_activity(
    spec: FunctionSpec, value: Any, executor: ThreadPoolExecutor, context: InvocationContext
) -> Any:
    return await call_function(spec, {spec.trigger_name: value}, executor=executor, context=context)
