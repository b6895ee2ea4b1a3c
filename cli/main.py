"""`pipeline`: the command line. Parses arguments and hands each command to its module (`set_defaults(run=...)`).

Errors are one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from cli.arguments import SubcommandParser
from cli.errors import CliError
from cli.exit_codes import ExitCode

__all__ = ["main"]

ASK_EXAMPLE = 'pipeline ask "How does the pipeline retry a failed step?"'


def _positive_seconds(text: str) -> float:
    """`--timeout`: a number of seconds above zero (0 or less would time out before anything ran)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def _at_least_one(text: str) -> int:
    """A count of 1 or more (`--tail`)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _port(text: str) -> int:
    """`--port`: a TCP port, 1..65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 1..65535")
    return value


def _command(module: str, function: str) -> Callable[..., int]:
    """A command's function, imported only when the command runs."""
    return getattr(importlib.import_module(f"cli.{module}"), function)


def _export(args: argparse.Namespace) -> int:
    statuses = [s.strip() for value in args.status for s in value.split(",") if s.strip()]
    return _command("export_command", "run_export")(args.directory, statuses=statuses, since=args.since, top=args.top)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Durable AI Pipeline: event-driven question answering on Durable Functions, offline or on Azure.",
        epilog=f"example: {ASK_EXAMPLE}",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the host and providers do")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=SubcommandParser)

    ask = commands.add_parser("ask", help="answer one question through the whole durable pipeline, offline")
    ask.set_defaults(
        run=lambda a: _command("ask", "run_ask")(
            a.question, top_k=a.top_k, scopes=a.scope, as_json=a.json, timeout_s=a.timeout
        )
    )
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=3, help="passages to retrieve (1..20)")
    ask.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="NAME",
        help="a document scope the question may read (repeatable); without one, only unscoped documents",
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--timeout", type=_positive_seconds, default=60.0, help="seconds to wait for the run (> 0)")

    serve = commands.add_parser("serve", help="run the local host: HTTP API, Durable status API, queue, events")
    serve.set_defaults(
        run=lambda a: _command("serve", "run_serve")(host=a.host, port=a.port, app_dir=a.app, allow_hosts=a.allow_host)
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (beyond loopback, keys are required)")
    serve.add_argument("--port", type=_port, default=7071)
    serve.add_argument("--app", type=Path, default=None, help="a Durable Functions Python app folder")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this Host name (repeatable; adds to PIPELINE_ALLOWED_HOSTS)",
    )

    enqueue = commands.add_parser("enqueue", help="put questions on the queue (Service Bus when configured)")
    enqueue.set_defaults(
        run=lambda a: _command("queue_commands", "run_enqueue")(
            a.question,
            top_k=a.top_k,
            request_id=a.request_id,
            file=a.file,
            raw=a.raw,
            raw_file=a.raw_file,
            message_id=a.message_id,
            traceparent=a.traceparent,
        )
    )
    source = enqueue.add_mutually_exclusive_group(required=True)
    source.add_argument("question", nargs="?")
    source.add_argument("--file", type=Path, help="JSONL file, one Question per line")
    source.add_argument("--raw", help="send this body as it is")
    source.add_argument("--raw-file", type=Path, help="send this file's exact bytes as the body (any encoding)")
    enqueue.add_argument("--top-k", type=int, default=3)
    enqueue.add_argument("--request-id")
    enqueue.add_argument("--message-id")
    enqueue.add_argument("--traceparent", help="W3C trace context to continue")

    dead = commands.add_parser("dead-letters", help="dead-lettered messages and why")
    dead.set_defaults(run=lambda a: _command("queue_commands", "run_dead_letters")(as_json=a.json))
    dead.add_argument("--json", action="store_true")

    index = commands.add_parser(
        "index",
        help="ingest documents into the index (local, or Azure AI Search when configured)",
        description="Ingest documents into the index: the local one under PIPELINE_DATA_DIR, or Azure AI Search "
        "when AZURE_SEARCH_ENDPOINT and AZURE_SEARCH_INDEX are set. Unchanged files are skipped by content hash; "
        "files it cannot read are listed with the reason. Locally, documents join the bundled sample corpus "
        "unless --recreate.",
        epilog="example: pipeline index docs/ notes.md",
    )
    index.set_defaults(
        run=lambda a: _command("index_command", "run_index")(
            a.paths, recreate=a.recreate, scopes=[] if a.unscoped else (a.scope or None), reanswer=a.reanswer
        )
    )
    index.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files or folders; folders are walked for the document types the index reads (dot-folders are "
        "skipped); a file named here is read whatever its extension",
    )
    index.add_argument(
        "--recreate",
        action="store_true",
        help="empty the index first, so it holds only these documents (locally, the sample corpus goes too)",
    )
    index.add_argument(
        "--reanswer",
        action="store_true",
        help="answers that cited a changed or deleted passage get a Stale event either way; with this, their "
        "questions are also asked again (new runs with metadata.supersedes = the stale run)",
    )
    scoping = index.add_mutually_exclusive_group()
    scoping.add_argument(
        "--scope",
        action="append",
        metavar="NAME",
        help="the documents' scopes, replacing any they had (repeatable): only questions carrying one of them "
        "see the documents; without --scope each file keeps the scopes it has (a new one: none)",
    )
    scoping.add_argument("--unscoped", action="store_true", help="drop the documents' scopes: every question sees them")

    evaluate = commands.add_parser("eval", help="score retrieval and answers on a questions file (JSONL)")
    evaluate.set_defaults(
        run=lambda a: _command("eval_command", "run_eval")(
            a.questions, top_k=a.top_k, corpus=a.corpus, json_out=a.json_out, per_question=a.per_question
        )
    )
    evaluate.add_argument("questions", type=Path)
    evaluate.add_argument("--top-k", type=int, default=3)
    evaluate.add_argument("--corpus", type=Path, help="index this folder into a throw-away index and score against it")
    evaluate.add_argument("--json-out", type=Path, help="write the scores as JSON here")
    evaluate.add_argument("--per-question", action="store_true", help="a row per question, not only the summary")

    status = commands.add_parser("status", help="status of a run")
    status.set_defaults(run=lambda a: _command("status_command", "run_status")(a.instance_id, as_json=a.json))
    status.add_argument("instance_id")
    status.add_argument("--json", action="store_true")

    events = commands.add_parser("events", help="published events (events.jsonl)")
    events.set_defaults(
        run=lambda a: _command("events_command", "run_events")(
            follow=a.follow, as_json=a.json, instance=a.instance, kind=a.type, tail=a.tail
        )
    )
    events.add_argument("--follow", "-f", action="store_true", help="keep printing events as they arrive")
    events.add_argument("--json", action="store_true", help="the raw CloudEvents, one JSON object a line")
    events.add_argument("--instance", metavar="ID", help="only this run's events")
    events.add_argument("--type", metavar="TYPE", help="only this type: Completed, Failed (or the full type name)")
    events.add_argument("--tail", type=_at_least_one, metavar="N", help="only the last N (then new ones, with -f)")

    replay = commands.add_parser(
        "replay", help="replay recorded histories against the orchestrator code as it is now (non-zero on divergence)"
    )
    replay.set_defaults(run=lambda a: _command("replay_command", "run_replay")(a.paths, app_dir=a.app, as_json=a.json))
    replay.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="status JSON files, folders, JSON lines")
    replay.add_argument("--app", type=Path, default=None, help="a Durable Functions Python app folder")
    replay.add_argument("--json", action="store_true", help="one JSON report (for CI)")

    export = commands.add_parser(
        "export", help="save histories (local state, or PIPELINE_EXPORT_URL) as status JSON for `pipeline replay`"
    )
    export.set_defaults(run=_export)
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="S",
        help="runtime status to include (repeatable, or comma-separated: Running,Failed)",
    )
    export.add_argument("--since", metavar="T", help="created at or after this ISO 8601 time")
    export.add_argument("--top", type=int, metavar="N", help="at most N instances")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (this process's own, `sys.argv`, when None) and return its exit code."""
    return _run(argv, whole_process=argv is None)


# Commands that end within seconds, run as the process's own command line: their allocations are nearly all
# things that live to their end (a thousand modules, pydantic's schemas, the model), so the cyclic collector
# is left off. Its 200-odd passes while `pipeline ask` starts up (and one more over all of it when turned
# back on) freed next to nothing, for about 5 % of the ask; reference counting frees the rest as usual.
_ONE_SHOT = frozenset({"ask"})


def _run(argv: Sequence[str] | None, *, whole_process: bool) -> int:
    args = _parser().parse_args(argv)
    one_shot = whole_process and args.command in _ONE_SHOT
    if one_shot:
        gc.disable()
    try:
        code = _run_command(args)
    finally:
        if whole_process:
            # The process ends next. Interpreter shutdown collects every generation as it tears the modules
            # down: with what an ask holds, about 0.3 s of a 1.7 s `pipeline ask`, after the answer was
            # printed. Frozen objects are skipped by those passes; reference counting still frees them, and
            # the operating system takes back the rest. A caller of `main([...])` (the tests) goes on running
            # and keeps its collector as it was.
            gc.freeze()
    if one_shot:
        _leave(code)
    return code


def _leave(code: int) -> NoReturn:
    """End a one-shot command's process now: its exit handlers run (log handlers, a telemetry exporter's last
    flush), then the process exits without tearing down its thousand modules one by one, which took 30-40 ms
    after `pipeline ask` had printed its answer. By then the command has finished all its work: its host is
    stopped, its webhook deliveries were given their grace, and no thread of it is left running."""
    # What interpreter shutdown would run. Private to the atexit module, in every CPython 3: an exporter whose
    # last flush it skipped would fail tests/telemetry/test_e2e_otlp.py.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (`| head`) or a stream closed
            stream.flush()
    os._exit(code)


# The state folder holds every question, answer and indexed document. Whatever a command creates, the folder
# included, is its user's alone, from the first command on: the host makes its own files so too
# (embedded_host/files.py), but `index`, `enqueue` or `ask` write the folder before any host starts.
_PRIVATE_UMASK = 0o077


def _run_command(args: argparse.Namespace) -> int:
    from cli.state_folder import load_user_settings

    os.umask(os.umask(_PRIVATE_UMASK) | _PRIVATE_UMASK)
    load_user_settings()  # before the settings are first read: the environment still wins over the file
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        code = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe (`| head`) surfaces here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`pipeline ask ... | head -2`): not an error of ours. Point stdout at
        # devnull so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an unexpected environment: still one line, details with -v
        from config import SettingsError

        if isinstance(exc, SettingsError):  # a malformed or half-set setting: wrong like a bad argument
            print(f"pipeline: error: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        if args.verbose:
            raise
        from embedded_host.functions.config import HostConfigError

        # A host configuration or state file problem says what to do itself; anything else is named by type.
        said = str(exc) if isinstance(exc, HostConfigError) else f"{type(exc).__name__}: {exc}"
        print(f"pipeline: error: {said}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
