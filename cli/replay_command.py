"""`pipeline replay`: check recorded histories against the orchestrator code as it is now.

Reads Durable status JSON with history (a file, a folder of them, JSON lines, or a JSON array), replays each
instance through the app's own orchestrator with the embedded host's replay core, and says per instance:
replays cleanly, diverges at historyEvents[N] (recorded vs scheduled), or raises. A file that cannot be
replayed gets its own error line; every other file is still checked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import CliError

if TYPE_CHECKING:
    from embedded_host.durable.backends import TimerLimits
    from embedded_host.durable.episode import OrchestratorHandle

__all__ = ["iter_documents", "run_replay"]

_SUFFIXES = (".json", ".jsonl", ".ndjson")


class _Unreadable:
    """A document that could not be parsed, with the reason."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Empty:
    """A folder with no histories: `pipeline export` of a quiet system writes none, and that is not an error."""

    def __init__(self, folder: str) -> None:
        self.folder = folder


def iter_documents(paths: Sequence[Path]) -> Iterator[tuple[str, Any]]:
    """(source, document or _Unreadable) for every history in ``paths``; folders are walked in name order."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
            if not files:
                yield str(path), _Empty(str(path))
            for file in files:
                yield from _read_file(file)
        elif path.is_file():
            yield from _read_file(path)
        else:
            yield str(path), _Unreadable("no such file or folder")


def _read_file(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield str(path), _Unreadable(f"cannot read: {exc}")
        return
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            if text.count("\n") <= 1 or not text.lstrip().startswith("{"):
                yield str(path), _Unreadable(f"malformed JSON: {exc}")
                return
        else:
            if isinstance(doc, list):  # an array of statuses, as the list API returns them
                for i, item in enumerate(doc):
                    yield f"{path}[{i}]", item
            else:
                yield str(path), doc
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except ValueError as exc:
            yield f"{path}:{number}", _Unreadable(f"malformed JSON: {exc}")


def _orchestrators(app_dir: Path) -> tuple[dict[str, OrchestratorHandle], TimerLimits | None]:
    from cli.environment import prepare_binding_settings
    from embedded_host.durable.episode import handle_of
    from embedded_host.functions.config import HostConfigError
    from embedded_host.functions.loader import load_app

    if not (app_dir / "function_app.py").is_file():
        raise CliError(f"{app_dir} has no function_app.py")
    prepare_binding_settings()  # the app's %SETTING% binding expressions must resolve, as for `serve`
    try:
        app = load_app(app_dir)
    except HostConfigError as exc:
        raise CliError(str(exc)) from None
    handles = {spec.name: handle_of(spec.func, spec.trigger_name) for spec in app.of_kind("orchestration")}
    if not handles:
        raise CliError(f"{app_dir}/function_app.py has no orchestrator function")
    # Histories are checked against the backend the app is configured for (host.json, or the app setting
    # that moves it to the Durable Task Scheduler): Azure Storage records a long timer as a chain of timers.
    return handles, app.config.timer_limits


def run_replay(paths: Sequence[Path], *, app_dir: Path | None, as_json: bool) -> int:
    """Check every history; exit 1 on any divergence or raise, 2 when some file could not be checked."""
    from cli.environment import APP_DIR
    from embedded_host.durable.checker import FIX_ADVICE, ReplayReport, check_recording
    from embedded_host.durable.recorded import RecordingError, read_recording

    handles, timer_limits = _orchestrators((app_dir or APP_DIR).resolve())
    reports: list[ReplayReport] = []
    empty: list[str] = []
    for source, doc in iter_documents(paths):
        if isinstance(doc, _Empty):
            empty.append(doc.folder)
            if not as_json:
                print(f"{doc.folder}: no histories (nothing was in flight when they were exported)", flush=True)
            continue
        if isinstance(doc, _Unreadable):
            reports.append(ReplayReport(source, "error", message=doc.message))
        else:
            try:
                recording = read_recording(doc)
            except RecordingError as exc:
                reports.append(ReplayReport(source, "error", _instance_id(doc), message=str(exc)))
            else:
                handle = handles.get(recording.name)
                if handle is None:
                    reports.append(
                        ReplayReport(
                            source,
                            "error",
                            recording.instance_id,
                            recording.name,
                            message=f"a history of orchestrator {recording.name!r}; this app's orchestrators are "
                            f"{', '.join(sorted(handles))}",
                        )
                    )
                else:
                    reports.append(check_recording(recording, handle, source=source, timer_limits=timer_limits))
        if not as_json:
            print(reports[-1].line(), flush=True)
    if not reports and empty:
        # Nothing was in flight when the histories were exported: nothing can diverge, so the gate passes.
        zero = dict.fromkeys(("clean", "diverged", "raises", "error"), 0)
        message = f"no histories in {', '.join(empty)}: nothing was in flight, nothing to check"
        print(
            json.dumps({"instances": [], "summary": zero, "message": message})
            if as_json
            else "0 checked: nothing was in flight, nothing to check"
        )
        return 0
    counts = {kind: sum(r.outcome == kind for r in reports) for kind in ("clean", "diverged", "raises", "error")}
    broken = counts["diverged"] + counts["raises"]
    if as_json:
        print(
            json.dumps(
                {
                    "instances": [r.to_json() for r in reports],
                    "summary": counts,
                    **({"advice": FIX_ADVICE} if broken else {}),
                },
                indent=2,
            )
        )
    else:
        print(
            f"{len(reports)} checked: {counts['clean']} clean, {counts['diverged']} diverged, "
            f"{counts['raises']} raised, {counts['error']} unreadable"
        )
        if broken:
            print(f"not safe to deploy: {FIX_ADVICE}", file=sys.stderr)
    if not reports:
        raise CliError("no histories found")
    return 1 if broken else 2 if counts["error"] else 0


def _instance_id(doc: Any) -> str | None:
    return doc.get("instanceId") if isinstance(doc, dict) else None
