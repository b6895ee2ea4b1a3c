"""`pipeline serve`: the embedded host for this app (or any app folder), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cli.environment import APP_DIR, data_dir, prepare_binding_settings, settings
from cli.errors import CliError
from cli.serve_record import ServeRecord, published
from cli.state_folder import announce_new_state_folder

__all__ = ["run_serve"]


def _listening_url(host: str, local_url: str) -> str:
    """What the banner shows: the address bound, and for a wildcard also the local URL to open.

    `server.base_url` is the loopback URL the host hands the app (status links); with `--host 0.0.0.0`
    the banner must still say that every interface listens.
    """
    if host in ("127.0.0.1", "localhost"):
        return local_url
    port = local_url.rsplit(":", 1)[1]
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        return f"http://{shown}:{port} (all interfaces; on this machine {local_url})"
    return f"http://{shown}:{port}"


def run_serve(*, host: str, port: int, app_dir: Path | None, allow_hosts: Sequence[str] = ()) -> int:
    from embedded_host import EmbeddedHost, HostAlreadyRunningError, HostConfigError
    from embedded_host.web.access import is_loopback

    app = (app_dir or APP_DIR).resolve()
    if not (app / "function_app.py").is_file():
        raise CliError(f"{app} has no function_app.py")
    if not is_loopback(host):
        print(
            f"warning: listening on {host}: anyone who can reach this port can call the anonymous routes; "
            "function routes and the Durable API need a key, which travels in plain HTTP (put TLS in front "
            "beyond a trusted network)",
            file=sys.stderr,
        )
    prepare_binding_settings()
    from embedded_host.files import private_state

    if app == APP_DIR:  # the sample corpus the announcement speaks of is this app's
        announce_new_state_folder(data_dir())  # while the folder is not there yet
    private_state(data_dir())  # before anything below creates a file in it
    if app == APP_DIR:
        from telemetry import configure_telemetry

        configure_telemetry()  # exporters from settings/OTEL_*, before the app loads
        _check_local_files()
        _resume_event_delivery()
        from providers.factory import load_model_in_background, prepare_local_index_when_opened

        load_model_in_background()  # while the host starts: the first question does not wait half a second for it
        prepare_local_index_when_opened()  # the answerer's sentences of the shipped sample index, in the background
    allowed = [*settings().allowed_hosts, *allow_hosts]
    from monitor import PAGE_DIR, PAGE_PREFIX

    server = EmbeddedHost(app, data_dir(), host=host, port=port, allowed_hosts=allowed, pages={PAGE_PREFIX: PAGE_DIR})

    note = ExitStack()  # the state folder's note that this serve runs, from its start to its stop

    def announce(_host: object) -> None:
        note.enter_context(published(data_dir(), ServeRecord(server.base_url, app, server.keys is not None)))
        print(
            f"serving {app} on {_listening_url(host, server.base_url)} (state in {data_dir()}); Ctrl-C stops",
            flush=True,
        )
        print(f"monitor: {server.base_url}{PAGE_PREFIX}/", flush=True)
        _announce_keys(server)

    try:
        with note:
            server.run_forever(on_started=announce)
    except HostAlreadyRunningError as exc:
        raise CliError(
            f"{exc}: use that one (its monitor is at /monitor/), or give this one its own state and port: "
            f"PIPELINE_DATA_DIR=OTHER_FOLDER pipeline serve --port {_free_port(host)}"
        ) from None
    except HostConfigError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"cannot listen on {host}:{port}: another process (a second `pipeline serve`?) has it; "
                f"choose another port with --port {_free_port(host)}"
            ) from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        if app == APP_DIR:
            from providers.factory import shutdown

            shutdown(flush_timeout_s=2.0)
    return 0


def _free_port(host: str) -> int | str:
    """A port free right now on `host`, to suggest (it may be taken by the time the user types it: only a hint)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, 0))
            return int(probe.getsockname()[1])
    except OSError:
        return "N"


def _announce_keys(server: Any) -> None:
    """Say where the keys are, never the keys: the console is often redirected to a file or a CI log."""
    if server.keys is None:
        return
    made = "generated into" if server.keys_created else "in"
    print(
        f"keys: function routes and the Durable API need a key, sent in the x-functions-key header or the code "
        f"query parameter; the keys are {made} {server.keys_path} (readable by you only): masterKey, "
        "functionKeys.default, systemKeys.durabletask_extension",
        flush=True,
    )


def _check_local_files() -> None:
    """An index that cannot be used stops the start here, in one line naming it, rather than at the first
    question (the outbox is opened by `_resume_event_delivery`, the host's state file by the host)."""
    from providers.errors import ProviderError
    from providers.factory import check_local_index

    try:
        check_local_index()
    except ProviderError as error:
        raise CliError(error.message) from None


def _resume_event_delivery() -> None:
    """Deliveries left pending by an earlier process restart now, not at the first new event."""
    from providers.errors import ProviderError
    from providers.factory import describe_providers, get_publisher

    print("providers: " + ", ".join(f"{k}={v}" for k, v in describe_providers().items()), flush=True)
    start = getattr(get_publisher(), "start", None)
    if callable(start):
        try:
            start()  # opens the outbox: a file that cannot be used stops the start
        except ProviderError as error:
            raise CliError(error.message) from None
