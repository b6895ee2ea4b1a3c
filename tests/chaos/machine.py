"""The machine failing under `pipeline serve`: a disk that fills up and is then enlarged again.

The state folder is a small tmpfs (root only: `mount -t tmpfs`), filled to the last byte while questions are
in flight over HTTP and on the local queue, held full while more arrive, then grown. Shared by
`tests/chaos/test_machine.py` (CI size) and `bench/chaos.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.scenarios import Figures, Host, _finish, _question, event_lines, exactly_once
from tests.processes import ROOT

__all__ = ["can_mount", "fill", "run_disk_full", "tmpfs"]


def can_mount() -> bool:
    return os.geteuid() == 0 and Path("/proc/filesystems").read_text().find("tmpfs") >= 0


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `where` for the block; always unmounted after (lazily if still busy)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "none", str(where)], check=True)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def grow(where: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)


def fill(where: Path) -> int:
    """Write a file until the file system refuses (ENOSPC); returns the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with (where / "filler").open("wb", buffering=0) as out:
        while len(chunk) >= 512:
            try:
                written += out.write(chunk)
            except OSError:
                chunk = chunk[: len(chunk) // 2]
    return written


def run_disk_full(
    workdir: Path,
    *,
    before: int = 6,
    during_s: float = 1.5,
    queued: int = 3,
    clients: int = 4,
    timeout_s: float = 60.0,
) -> Figures:
    """`before` questions over HTTP and `queued` on the queue, then the disk fills; for `during_s` more questions
    arrive (each must be accepted or get a 503 problem with Retry-After); then the disk grows and every accepted
    question must complete exactly once, with no restart, and a question asked after must too."""
    began = time.monotonic()
    mount = workdir / "data"
    with tmpfs(mount, "16m"):
        # The hash embedder: the sample index builds in a second, and the test is about the disk, not the model.
        host = Host(mount, {"PIPELINE_LOCAL_EMBEDDER": "hash"}).start()
        try:
            return _disk_full(host, mount, before, during_s, queued, clients, timeout_s, began)
        finally:
            host.stop()


def _disk_full(
    host: Host, mount: Path, before: int, during_s: float, queued: int, clients: int, timeout_s: float, began: float
) -> Figures:
    accepted: list[str] = []
    refusals: list[httpx.Response] = []
    lock = threading.Lock()

    def ask(request_id: str, client: httpx.Client) -> None:
        try:
            response = host.count(
                client.post(host.base_url + "/api/pipeline/start", json=_question(0, request_id=request_id))
            )
        except httpx.HTTPError:
            return
        with lock:
            if response.status_code == 202:
                accepted.append(request_id)
            else:
                refusals.append(response)

    warm = host.post_question(_question(3, request_id="disk-warm"))  # builds the sample index, loads the models
    host.wait_all([warm.json()["instance_id"]], timeout_s)
    queue_ids = [f"disk-q-{i}" for i in range(queued)]
    with host.queue() as queue:
        for message_id in queue_ids:
            queue.send(json.dumps(_question(1)), message_id=message_id)
    with httpx.Client(timeout=10) as client:
        for i in range(before):
            ask(f"disk-before-{i}", client)
    asked_s = time.monotonic() - began
    filled = fill(mount)
    stop = time.monotonic() + during_s
    counter = iter(range(1_000_000))

    def keep_asking() -> None:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < stop:
                ask(f"disk-during-{next(counter)}", client)
                time.sleep(0.01)

    indexed_before = _indexed_sources(mount)
    threads = [threading.Thread(target=keep_asking) for _ in range(clients)]
    for thread in threads:
        thread.start()
    index_run = _index_a_file(host, mount.parent / "new-doc.md")
    for thread in threads:
        thread.join()
    log_while_full = _log_of(host)
    grow(mount, "64m")
    grown_at = time.monotonic()
    after_id = "disk-after-0"
    with httpx.Client(timeout=10) as client:
        accepted_after = host.post_question(_question(2, request_id=after_id), client=client, deadline_s=20)
    ids = [*accepted, *queue_ids, after_id]
    statuses = host.wait_all(ids, timeout_s)
    drained_s = time.monotonic() - grown_at
    lines = event_lines(mount)
    lost, duplicated, notes = exactly_once(ids, statuses, lines, None)
    log = _log_of(host)
    proper = sum(1 for r in refusals if _is_503_problem(r))
    host.server_errors -= proper  # the 503s with Retry-After are the point; any other 5xx still counts
    notes.update(
        index_exit_code=index_run.returncode,
        index_stderr=index_run.stderr.strip().splitlines()[-3:],
        index_unchanged=_indexed_sources(mount) == indexed_before,
        filler_bytes=filled,
        seconds_to_ask_before=round(asked_s, 1),
        seconds_to_finish_after_growth=round(drained_s, 1),
        accepted=len(accepted),
        refused=len(refusals),
        refused_503_problem=proper,
        refused_not_503_problem=sum(1 for r in refusals if not _is_503_problem(r)),
        accepted_after_growth=accepted_after.status_code,
        queue_dead_letters=_dead_letters(host),
        outage_warnings_while_full=log_while_full.count("cannot write"),
        tracebacks=log.count("Traceback"),
        log_lines=log.count("\n"),
        resumed=log.count("writable again"),
    )
    return _finish(host, "disk full (tmpfs)", f"{len(ids)} questions", lost, duplicated, began, notes)


def _is_503_problem(response: httpx.Response) -> bool:
    body: Any = response.json() if response.headers.get("content-type", "").startswith("application/problem") else {}
    return response.status_code == 503 and bool(response.headers.get("retry-after")) and body.get("status") == 503


def _index_a_file(host: Host, document: Path) -> subprocess.CompletedProcess[str]:
    """`pipeline index` of one new document into the (full) state folder, as a user would run it."""
    document.write_text("# Disk space\n\n" + "A full disk refuses every write until space is freed. " * 200)
    env = {**host.server.env, "PIPELINE_LOCAL_EMBEDDER": "hash"}
    command = [sys.executable, "-m", "cli.main", "index", str(document)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def _indexed_sources(mount: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{mount / 'index' / 'index.sqlite'}?mode=ro", uri=True)) as db:
        return sorted(row[0] for row in db.execute("SELECT source FROM documents"))


def _dead_letters(host: Host) -> int:
    with host.queue() as queue:
        return len(queue.dead_letters())


def _log_of(host: Host) -> str:
    path = host.data_dir.parent / f"serve-{host.server.port}.log"
    return path.read_text(errors="replace") if path.exists() else ""
