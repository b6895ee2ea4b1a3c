"""`pipeline serve`: the embedded host for this app (or any app folder), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from cli.environment import APP_DIR, data_dir, prepare_binding_settings
from cli.errors import CliError

__all__ = ["run_serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def run_serve(*, host: str, port: int, app_dir: Path | None) -> int:
    from embedded_host import EmbeddedHost, HostAlreadyRunningError, HostConfigError

    app = (app_dir or APP_DIR).resolve()
    if not (app / "function_app.py").is_file():
        raise CliError(f"{app} has no function_app.py")
    if not _is_loopback(host):
        print(
            f"warning: listening on {host}: the embedded host has no authentication, "
            "so anyone who can reach this port can start runs and read results",
            file=sys.stderr,
        )
    prepare_binding_settings()
    if app == APP_DIR:
        from telemetry import configure_telemetry

        configure_telemetry()  # exporters from settings/OTEL_*, before the app loads
        _resume_event_delivery()
    server = EmbeddedHost(app, data_dir(), host=host, port=port)

    def announce(_host: object) -> None:
        print(f"serving {app} on {_listening_url(host, server.base_url)} (state in {data_dir()}); Ctrl-C stops",
              flush=True)

    try:
        server.run_forever(on_started=announce)
    except HostAlreadyRunningError as exc:
        raise CliError(str(exc)) from None
    except HostConfigError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        if app == APP_DIR:
            from providers.factory import shutdown

            shutdown(flush_timeout_s=2.0)
    return 0


def _resume_event_delivery() -> None:
    """Deliveries left pending by an earlier process restart now, not at the first new event."""
    from providers.factory import describe_providers, get_publisher

    print("providers: " + ", ".join(f"{k}={v}" for k, v in describe_providers().items()), flush=True)
    start = getattr(get_publisher(), "start", None)
    if callable(start):
        start()
