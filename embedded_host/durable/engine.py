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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from embedded_host.durable.actions import EngineState
from embedded_host.durable.durable_http import HTTP_ACTIVITY, token_source_users
from embedded_host.durable.durable_http import perform as perform_http
from embedded_host.durable.entities import EntityHost, check_entities
from embedded_host.durable.episode import execute, handle_of
from embedded_host.durable.history import (
    EventType,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    SubOrchestrationInstanceCreated,
    TaskCompleted,
    TaskFailed,
    event_id,
    event_type,
    execution_completed,
    execution_terminated,
    generic_event,
    is_event_sent,
    is_execution_started,
    is_execution_suspended,
    is_execution_terminated,
    is_sub_orchestration_created,
    is_task_scheduled,
    orchestrator_completed,
    orchestrator_started,
    sub_orchestration_failed,
    task_completed,
    task_failed,
    timer_fired,
)
from embedded_host.durable.history import execution_started as started_event
from embedded_host.durable.retention import expired_runs, retention_s
from embedded_host.durable.rewind import RewindPlan, plan_rewind
from embedded_host.durable.sdk_shortcuts import install_sdk_shortcuts
from embedded_host.durable.sessions import CAPACITY, SessionPool
from embedded_host.durable.store import DurableStore, InboxEvent, Timer, WorkItem, connect
from embedded_host.durable.suborchestrations import ParentLink, completion_event, default_instance_id
from embedded_host.durable.timeutil import iso_utc, now_utc, parse_iso, status_time
from embedded_host.functions.config import HostConfigError
from embedded_host.functions.invoker import (
    InvocationContext,
    call_function,
    decode_activity_input,
    encode_activity_output,
)
from embedded_host.functions.loader import FunctionSpec, LoadedApp
from embedded_host.outage import WriteOutage, cannot_write

__all__ = ["DurableEngine", "execution_started"]

log = logging.getLogger("embedded_host.durable.engine")

# Suspended instances stay loaded: their events are held in the inbox until a resume (or terminate) arrives.
_LIVE = ("Pending", "Running", "Suspended")
_CONTROL = frozenset({EventType.ExecutionTerminated, EventType.ExecutionSuspended})
_LEASE_S = 300.0


@dataclass(slots=True)
class _Instance:
    """A running instance, kept in memory between episodes (its history as ready-made JSON text)."""

    id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    state: EngineState
    parent: str | None = None  # the parent instance of a sub-orchestration
    custom_status: str | None = None
    parts: list[str] = field(default_factory=list)  # history events as JSON text (IsPlayed: true)
    pending: deque[InboxEvent] = field(default_factory=deque)  # new events, not replayed yet
    persisted: int = 0  # history rows already in the file


@dataclass(slots=True)
class _Commit:
    """Side effects to start once the transaction has committed."""

    work: list[WorkItem] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Result:
    """An activity's completion event, held in memory until the next commit."""

    item: WorkItem
    event: HistoryEvent


class DurableEngine:
    """Runs the app's orchestrations and activities; ``DurableClient`` (client.py) starts and steers them."""

    def __init__(
        self, app: LoadedApp, db_path: Path, *, owner: str | None = None, activity_grace_s: float = 10.0
    ) -> None:
        install_sdk_shortcuts()
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
        self.outage = WriteOutage(self.db_path, log)
        self.store = DurableStore(self.conn, self.outage)
        self._orchestrators = {f.name: f for f in app.of_kind("orchestration")}
        self._activities = {f.name: f for f in app.of_kind("activity")}
        limit = app.config.max_concurrent_activities
        self._executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="activity")
        self._sem = asyncio.Semaphore(limit)
        self._running: dict[str, _Instance] = {}
        # Each running orchestration's SDK executor, kept between episodes (none kept when capacity is 0).
        self._sessions = SessionPool(CAPACITY if app.config.extended_sessions else 0)
        self._ready: set[str] = set()
        self._staged: list[_Result] = []
        self._inflight: set[int] = set()  # work items whose activity is running now
        self._timers: list[Timer] = []  # a heap: the next one due first
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}
        self._activity_tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self.keep_finished_s = retention_s()  # None: finished runs stay until purged by hand
        self.purged = 0
        self._stopping = False
        self._failed_ticks = 0
        self.entities = EntityHost(entity_functions, self.conn, self._wake.set)
        self.episodes = 0
        self.commits = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reload running instances, re-lease every work item (the previous owner is gone) and start the loop."""
        work = self._recover()
        self._loop_task = asyncio.create_task(self._run(), name="durable-engine")
        if self.keep_finished_s is not None:
            self._retention_task = asyncio.create_task(self._purge_expired(self.keep_finished_s), name="retention")
        for item in work:
            self._dispatch(item)
        if self._ready or self._timers:
            self._wake.set()

    async def stop(self) -> None:
        """Let in-flight activities finish (up to the grace period), commit their results, stop."""
        self._stopping = True
        if self._retention_task is not None:
            self._retention_task.cancel()
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
            try:
                self._tick()
            except Exception as exc:  # their work items are still in the file: they run again at the next start
                if not cannot_write(exc):
                    raise
                log.warning("stopping with %d activity results unsaved (%s); they run again", len(self._staged), exc)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.conn.close()

    # -- what the client asks of the engine (client.py; event-loop thread) ----------------------------------
    def refusal_to_start(self, name: str) -> str | None:
        """Why ``name`` cannot be started (it is not an orchestrator of this app), or None when it can."""
        if name in self._orchestrators:
            return None
        return (
            f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
            f"Additional info: the following are the known orchestrator functions: "
            f"{', '.join(sorted(self._orchestrators)) or '(none)'}."
        )

    def admit(self, instance_id: str, name: str, execution_id: str, input_text: str | None, queued: InboxEvent) -> None:
        """Run an instance the client has just created in the file, its ``ExecutionStarted`` ``queued``."""
        inst = _Instance(instance_id, name, execution_id, "Pending", input_text, EngineState())
        inst.pending.append(queued)
        self._running[instance_id] = inst
        self._mark_ready(instance_id)

    def enqueue(self, instance_id: str, ev: HistoryEvent) -> bool:
        """Queue an event for a running instance; False when it is not running (unknown or finished)."""
        inst = self._running.get(instance_id)
        if inst is None:
            return False
        self._deliver(inst, ev)
        return True

    def is_running(self, instance_id: str) -> bool:
        """Whether the instance is loaded here (pending, running or suspended)."""
        return instance_id in self._running

    def delete_instances(self, instance_ids: list[str]) -> int:
        """Delete instances, running ones too: they leave memory, and their late results and timers are dropped."""
        if not instance_ids:
            return 0
        with self.store.transaction():
            deleted = sum(self.store.purge(iid) for iid in instance_ids)
        for instance_id in instance_ids:
            self._sessions.drop(instance_id)
            if self._running.pop(instance_id, None) is not None:
                self._ready.discard(instance_id)
                for future in self._waiters.pop(instance_id, []):  # a waiting client learns it is gone
                    if not future.done():
                        future.set_result(instance_id)
        return deleted

    def rewind_failed(self, instance_id: str, reason: str | None) -> None:
        """Rewind a failed instance and its failed children in one transaction (see rewind.py).

        Raises ``RewindRefusedError`` when this host cannot rewind the instance (nothing is changed then).
        """
        plans = plan_rewind(
            self.store, self._orchestrators, instance_id, reason, timer_limits=self.app.config.timer_limits
        )
        commit = _Commit()
        try:
            with self.store.transaction():
                for plan in plans:
                    self._apply_rewind(plan, reason, commit)
        except BaseException:
            self._reload()  # memory follows the file again
            raise
        self._committed(commit)
        self._wake.set()

    async def until_finished(self, instance_id: str, timeout: float) -> None:
        """Wait until the instance finishes or is deleted, or ``timeout`` seconds have passed."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiters = self._waiters.get(instance_id)
            if waiters and future in waiters:
                waiters.remove(future)

    def _mark_ready(self, instance_id: str) -> None:
        self._ready.add(instance_id)
        self._wake.set()

    def _deliver(self, inst: _Instance, ev: HistoryEvent) -> None:
        """Queue an event for a running instance: in its inbox in the file, and in memory."""
        inst.pending.append(self.store.deliver(inst.id, ev))
        self._mark_ready(inst.id)

    async def _purge_expired(self, keep_s: float) -> None:
        """PIPELINE_RETENTION_DAYS: delete runs that finished longer ago, a batch per transaction, between ticks."""
        period = min(60.0, max(1.0, keep_s / 4))
        while not self._stopping:
            try:
                while batch := expired_runs(self.conn, keep_s, 500):
                    self.purged += self.delete_instances(batch)
                    await asyncio.sleep(0)  # let the engine and the HTTP layer in between batches
            except Exception as exc:  # a full disk: the next pass tries again
                if not cannot_write(exc):
                    log.exception("purging finished runs failed")
                else:
                    self.outage.failed(exc)
            await asyncio.sleep(period)

    # -- the loop --------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        # Stopping is a flag, not a cancel: on Python 3.11 `wait_for` can swallow a cancellation that races
        # with the wake-up it is waiting for.
        while not self._stopping:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0].fire_at - time.time())
            if timeout is None or timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            # Let completions that are already due land in this batch, so one commit carries them all.
            await asyncio.sleep(0)
            try:
                self._tick()
            except Exception as exc:
                await self._after_failed_tick(exc)
            else:
                self._failed_ticks = 0

    async def _after_failed_tick(self, exc: Exception) -> None:
        """The tick's transaction rolled back: memory follows the file again, and the loop tries again soon.

        A write the storage refused (a full disk) is one outage for the log, however often it is retried;
        reloading only reads, so it works on a full disk too, and nothing accepted is dropped: the inbox,
        work items and timers are still in the file, activity results still in memory.
        """
        if cannot_write(exc):
            self.outage.failed(exc)
        else:
            log.exception("engine tick failed; reloading state from %s", self.db_path)
        self._reload()
        self._failed_ticks += 1
        await asyncio.sleep(self.outage.backoff(self._failed_ticks))
        self._wake.set()

    def _tick(self) -> None:
        if not (
            self._staged
            or self._ready
            or self.entities.ready
            or (self._timers and self._timers[0].fire_at <= time.time())
        ):
            return
        commit = _Commit()
        store = self.store
        staged, self._staged = self._staged, []
        try:
            self._tick_in(store, staged, commit)
        except BaseException:
            self._staged[:0] = staged  # not committed: these results still have to land
            raise
        self.commits += 1
        self._committed(commit)

    def _tick_in(self, store: DurableStore, staged: list[_Result], commit: _Commit) -> None:
        with store.transaction():
            touched: dict[str, _Instance] = {}
            for result in staged:
                item = result.item
                inst = self._running.get(item.instance_id)
                gone = not store.take_work_item(item.id)
                if gone or inst is None or inst.execution_id != item.execution_id:
                    continue  # the instance finished, was terminated or restarted: drop the late result
                inst.pending.append(InboxEvent(result.event, None))
                touched[inst.id] = inst
            now = time.time()
            while self._timers and self._timers[0].fire_at <= now:
                timer = heapq.heappop(self._timers)
                inst = self._running.get(timer.instance_id)
                gone = not store.take_timer(timer.id)
                if gone or inst is None or inst.execution_id != timer.execution_id:
                    continue
                fired = timer_fired(iso_utc(now_utc()), timer.timer_id, timer.fire_at_text)
                inst.pending.append(InboxEvent(fired, None))
                touched[inst.id] = inst
            ready, self._ready = self._ready, set()
            for instance_id in ready:
                if (inst := self._running.get(instance_id)) is not None:
                    touched[instance_id] = inst
            for inst in touched.values():
                self._process(inst, commit)
            self.entities.run(self.enqueue)  # answers land in callers' inboxes, replayed next tick

    def _committed(self, commit: _Commit) -> None:
        """Start what the commit made durable: activities, timers, and the answers to waiting clients."""
        for item in commit.work:
            self._dispatch(item)
        for timer in commit.timers:
            heapq.heappush(self._timers, timer)
        for instance_id in commit.finished:
            for future in self._waiters.pop(instance_id, []):
                if not future.done():
                    future.set_result(instance_id)

    def _process(self, inst: _Instance, commit: _Commit) -> None:
        """Run episodes until the instance has no new events (or finishes, or is suspended)."""
        while inst.pending and inst.status in _LIVE:
            if inst.status == "Suspended" and not self._take_resume(inst):
                break  # everything else stays held in the inbox until a resume
            first = inst.pending[0].event
            if is_execution_terminated(first):
                inst.pending.popleft()
                self._finish(inst, commit, "Terminated", first["Input"], None, [])
                break
            if is_execution_suspended(first):
                self._suspend(inst, inst.pending.popleft())
                continue
            batch: list[InboxEvent] = []
            for item in inst.pending:
                if event_type(item.event) in _CONTROL:
                    break
                if inst.state.is_retry_event(item.event):
                    if not batch:
                        batch.append(item)
                    break  # see replay.py: a retry event replays alone so hidden ids stay in step
                batch.append(item)
            for _ in batch:
                inst.pending.popleft()
            self._episode(inst, batch, commit)
        if inst.status in _LIVE:
            self._persist_pending(inst)

    def _persist_pending(self, inst: _Instance) -> None:
        """Events that arrived straight from memory (activity results, timers, a refused child's failure) but
        were not replayed yet must not live only in memory past this commit."""
        for index, (ev, inbox_id) in enumerate(inst.pending):
            if inbox_id is None:
                inst.pending[index] = self.store.deliver(inst.id, ev)

    def _take_resume(self, inst: _Instance) -> bool:
        """For a suspended instance: bring the first resume or terminate to the front of its new events.

        The events held before it then follow the ``ExecutionResumed`` into the same episode, which is where
        the orchestrator sees them (DTFx replays held events right after the resume). A second suspend that
        arrived while suspended changes nothing and is dropped. False when there is nothing to wake for.
        """
        for index, wake in enumerate(inst.pending):
            etype = event_type(wake.event)
            if etype == EventType.ExecutionSuspended:
                continue
            if etype in (EventType.ExecutionResumed, EventType.ExecutionTerminated):
                before = list(inst.pending)[:index]
                held = [item for item in before if not is_execution_suspended(item.event)]
                suspends = [item for item in before if is_execution_suspended(item.event)]
                self.store.take_from_inbox(item.inbox_id for item in suspends if item.inbox_id is not None)
                inst.pending = deque([wake, *held, *list(inst.pending)[index + 1 :]])
                if etype == EventType.ExecutionResumed:
                    inst.status = "Running"
                return True
        return False

    def _suspend(self, inst: _Instance, item: InboxEvent) -> None:
        """Record ``ExecutionSuspended`` in an episode of its own (the orchestrator has nothing new to see)."""
        if item.inbox_id is not None:
            self.store.take_from_inbox([item.inbox_id])
        now = now_utc()
        stamp = iso_utc(now)
        self._append_history(
            inst,
            [orchestrator_started(stamp), item.event, orchestrator_completed(stamp)],
        )
        inst.status = "Suspended"
        self.store.suspend(inst.id, status_time(now))

    def _episode(self, inst: _Instance, batch: list[InboxEvent], commit: _Commit) -> None:
        self.episodes += 1
        now = now_utc()
        stamp = iso_utc(now)
        new_events: list[HistoryEvent] = [orchestrator_started(stamp)]
        new_events.extend(item.event for item in batch)
        inbox_ids = [item.inbox_id for item in batch if item.inbox_id is not None]
        if inbox_ids:
            self.store.take_from_inbox(inbox_ids)
        if is_execution_started(new_events[1]) and inst.status == "Pending":
            inst.status = "Running"
        spec = self._orchestrators.get(inst.name)
        if spec is None:
            message = f"The orchestrator function '{inst.name}' does not exist in this app."
            self._finish(inst, commit, "Failed", message, message, [*new_events, orchestrator_completed(stamp)])
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
            timer_limits=self.app.config.timer_limits,
            session=self._sessions.get(inst.id, inst.execution_id, spec.func),
        )
        if result.sdk_state is not None:
            custom = result.custom_status
            inst.custom_status = json.dumps(custom) if custom is not None else None
        if result.status != "Failed" and (missing := self.entities.missing_target(result.scheduled)):
            # The extension checks the entity function exists when the orchestrator sends to it, and fails it.
            message = f"Orchestrator function '{inst.name}' failed: {missing}"
            self._finish(inst, commit, "Failed", message, message, [*new_events, orchestrator_completed(stamp)])
            return
        if result.continue_as_new is not None:
            for ev in result.scheduled:  # entity messages of the last episode still go out, as in DTFx
                if is_event_sent(ev):
                    self.entities.send(ev)
            self._continue_as_new(inst, result.continue_as_new)
            return
        appended = list(new_events)
        if result.status != "Failed":  # a failed episode's actions are never carried out
            for ev in result.scheduled:
                appended.append(ev)
                if is_task_scheduled(ev):
                    self._add_work(inst, event_id(ev), ev["Name"], ev["Input"], commit)
                elif is_event_sent(ev):
                    self.entities.send(ev)
                elif is_sub_orchestration_created(ev):
                    self._start_child(inst, ev, now)
                else:
                    self._add_timer(inst, event_id(ev), ev["FireAt"], commit)
        appended.append(orchestrator_completed(stamp))
        if result.status is not None:
            failure = result.output if result.status == "Failed" else None
            self._finish(inst, commit, result.status, result.output, failure, appended)
            return
        self._append_history(inst, appended)
        state = json.dumps(inst.state.to_json())
        self.store.save_progress(inst.id, inst.status, inst.custom_status, status_time(now), state)

    def _continue_as_new(self, inst: _Instance, action: dict[str, Any]) -> None:
        self._sessions.drop(inst.id)
        inst.execution_id = uuid.uuid4().hex
        inst.input = action.get("input")
        inst.state = EngineState()
        inst.parts = []
        inst.persisted = 0
        link = self.store.parent_of(inst.id) if inst.parent is not None else None
        started = execution_started(now_utc(), inst.name, inst.id, inst.execution_id, inst.input, link)
        inst.pending.appendleft(InboxEvent(started, None))  # unprocessed raised events carry over, as in DTFx
        self.store.new_execution(inst.id, inst.execution_id, inst.input, inst.custom_status, status_time(now_utc()))

    def _finish(
        self,
        inst: _Instance,
        commit: _Commit,
        status: str,
        output: Any,
        failure: str | None,
        appended: list[HistoryEvent],
    ) -> None:
        stamp = iso_utc(now_utc())
        output_text = json.dumps(output) if output is not None else None
        if status == "Terminated":
            appended.append(execution_terminated(stamp, output))
        else:
            appended.append(execution_completed(stamp, status, output_text, failure))
        self._append_history(inst, appended)
        self._sessions.drop(inst.id)
        inst.status = status
        state = json.dumps(inst.state.to_json())
        self.store.finish(inst.id, status, output_text, inst.custom_status, failure, status_time(now_utc()), state)
        inst.pending.clear()
        self._running.pop(inst.id, None)
        commit.finished.append(inst.id)
        if inst.parent is not None:
            self._answer_parent(inst, status, output_text, failure if status != "Terminated" else output)

    def _append_history(self, inst: _Instance, events: list[HistoryEvent]) -> None:
        texts = []
        for ev in events:
            ev["IsPlayed"] = True  # from the next episode on, these are replayed
            texts.append(json.dumps(ev))
        self.store.append_history(inst.id, inst.persisted, texts)
        inst.parts.extend(texts)
        inst.persisted += len(texts)

    def _add_work(self, inst: _Instance, task_id: int, name: str, raw_input: str | None, commit: _Commit) -> None:
        item = WorkItem(0, inst.id, inst.execution_id, task_id, name, raw_input)
        commit.work.append(self.store.add_work_item(item, self.owner, time.time() + _LEASE_S))

    def _add_timer(self, inst: _Instance, timer_id: int, fire_at: str, commit: _Commit) -> None:
        try:
            due = parse_iso(fire_at).timestamp()
        except ValueError:
            due = time.time()
        commit.timers.append(self.store.add_timer(Timer(due, 0, inst.id, inst.execution_id, timer_id, fire_at)))

    # -- sub-orchestrations (semantics in suborchestrations.py) ----------------------------------------------
    def _start_child(self, parent: _Instance, ev: SubOrchestrationInstanceCreated, now: datetime) -> None:
        """Create the child of a ``SubOrchestrationInstanceCreated`` inside the tick's transaction."""
        task_id, name = event_id(ev), ev["Name"]
        child_id = ev["InstanceId"] or default_instance_id(parent.execution_id, task_id)
        ev["InstanceId"] = child_id
        refusal = self._child_refusal(parent, name, child_id)
        if refusal is not None:  # the parent's task fails at once, where its code can catch it
            failed = sub_orchestration_failed(iso_utc(now), task_id, refusal, None)
            parent.pending.append(InboxEvent(failed, None))
            return
        if self.store.runtime_status(child_id) is not None:
            self.store.purge(child_id)  # a finished instance of that id is overwritten, as by a client start
        link = ParentLink(parent.id, parent.execution_id, parent.name, task_id)
        execution_id = uuid.uuid4().hex
        started = execution_started(now, name, child_id, execution_id, ev["Input"], link)
        self.store.create_instance(child_id, name, ev["Input"], execution_id, status_time(now))
        queued = self.store.deliver(child_id, started)
        self.store.link_child(child_id, link)
        child = _Instance(child_id, name, execution_id, "Pending", ev["Input"], EngineState(), parent.id)
        child.pending.append(queued)
        self._running[child_id] = child
        self._mark_ready(child_id)

    def _child_refusal(self, parent: _Instance, name: str, child_id: str) -> str | None:
        if (refusal := self.refusal_to_start(name)) is not None:
            return refusal
        if child_id.lower() in (parent.id.lower(), (parent.parent or "").lower()):
            return (
                "The instance ID of a sub-orchestration must be different than the instance ID of a parent "
                "orchestration."
            )
        if (other := self._running.get(child_id)) is not None:
            return f"An Orchestration instance with the status {other.status} already exists."
        return None

    def _answer_parent(self, child: _Instance, status: str, output_text: str | None, detail: Any) -> None:
        """Queue the child's outcome for the parent execution that asked (dropped if that one has ended)."""
        link = self.store.parent_of(child.id)
        parent = self._running.get(link.instance_id) if link is not None else None
        if link is None or parent is None or parent.execution_id != link.execution_id:
            return
        failure = detail if isinstance(detail, str) else None
        self._deliver(parent, completion_event(link, status, output_text, failure, iso_utc(now_utc())))

    # -- rewind (what is undone and what runs again: rewind.py) ----------------------------------------------
    def _apply_rewind(self, plan: RewindPlan, reason: str | None, commit: _Commit) -> None:
        now = now_utc()
        row = plan.instance
        self.store.rewind(row.instance_id, status_time(now), json.dumps(plan.state.to_json()))
        inst = _Instance(row.instance_id, row.name, row.execution_id, "Running", row.input, plan.state, plan.parent)
        inst.custom_status = row.custom_status
        self._sessions.drop(inst.id)  # its history is rewritten: the next episode replays it in full
        self._running[inst.id] = inst
        for created in plan.children:
            self._start_child(inst, created, now)  # names it in the history event it was given
        self._persist_pending(inst)  # a refused child's failure
        self._append_history(inst, plan.events)
        for task in plan.work:
            self._add_work(inst, task.task_id, task.name, task.input, commit)
        for timer in plan.timers:
            self._add_timer(inst, timer.timer_id, timer.fire_at, commit)
        marker = generic_event(iso_utc(now), json.dumps({"Rewound": True, "Reason": reason}))
        for ev in [*plan.answers, marker]:
            self._deliver(inst, ev)

    # -- activities ------------------------------------------------------------------------------------------
    def _dispatch(self, item: WorkItem) -> None:
        if self._stopping:
            return  # stays in the file; runs after the next start
        self._inflight.add(item.id)
        task = asyncio.create_task(self._run_activity(item))
        self._activity_tasks.add(task)
        task.add_done_callback(self._activity_tasks.discard)
        task.add_done_callback(lambda _task: self._inflight.discard(item.id))

    async def _run_activity(self, item: WorkItem) -> None:
        name, raw_input = item.name, item.input
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
                if name == HTTP_ACTIVITY or spec is None:
                    result = await perform_http(raw_input)
                else:
                    result = await _call_activity(spec, value, self._executor, context)
                ev: TaskCompleted | TaskFailed = task_completed(
                    iso_utc(now_utc()), item.task_id, encode_activity_output(result)
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                details = json.dumps(
                    {"Message": f"{type(exc).__name__}: {exc}", "StackTrace": "".join(traceback.format_exception(exc))}
                )
                reason = f"Activity function '{name}' failed: {type(exc).__name__}: {exc}"
                ev = task_failed(iso_utc(now_utc()), item.task_id, reason, details)
        self._staged.append(_Result(item, ev))
        self._wake.set()

    # -- recovery --------------------------------------------------------------------------------------------
    def _reload(self) -> None:
        """Rebuild memory from the file after a rolled-back transaction, reading only (the disk may be full).

        Activity results not yet committed stay staged, running activities go on; a work item that is neither
        (none, unless memory and file disagreed) runs again.
        """
        self._load_instances()
        staged = {result.item.id for result in self._staged}
        for item in self.store.work_items():
            if item.id not in self._inflight and item.id not in staged:
                self._dispatch(item)

    def _recover(self) -> list[WorkItem]:
        """At start-up: rebuild memory from the file and lease every work item (the previous owner is gone)."""
        self._staged.clear()
        self._load_instances()
        return self.store.lease_all_work(self.owner, time.time() + _LEASE_S)

    def _load_instances(self) -> None:
        """Memory from the file: running instances, their history and inbox, timers, entities with work."""
        store = self.store
        self._running.clear()
        self._sessions.clear()  # what they were fed may not have been committed
        for row in store.live_instances():
            state = EngineState.from_json(json.loads(row.engine_state or "{}"))
            inst = _Instance(row.instance_id, row.name, row.execution_id, row.runtime_status, row.input, state)
            inst.custom_status = row.custom_status
            if (link := store.parent_of(inst.id)) is not None:
                inst.parent = link.instance_id
            inst.parts = store.history(inst.id)
            inst.persisted = len(inst.parts)
            inst.pending.extend(store.inbox(inst.id))
            self._running[inst.id] = inst
            if inst.pending:
                self._ready.add(inst.id)
        self._timers = store.timers()
        heapq.heapify(self._timers)
        self.entities.recover()


def execution_started(
    now: datetime, name: str, instance_id: str, execution_id: str, input_text: str | None, parent: ParentLink | None
) -> ExecutionStarted:
    """The ``ExecutionStarted`` that begins an execution (``ParentInstance`` set for a sub-orchestration)."""
    instance: OrchestrationInstance = {"InstanceId": instance_id, "ExecutionId": execution_id}
    return started_event(
        iso_utc(now), name, input_text, instance, parent.as_parent_instance() if parent is not None else None
    )


async def _call_activity(
    spec: FunctionSpec, value: Any, executor: ThreadPoolExecutor, context: InvocationContext
) -> Any:
    return await call_function(spec, {spec.trigger_name: value}, executor=executor, context=context)
