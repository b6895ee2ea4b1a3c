"""Embedded host: run any Durable Functions Python v2 app folder offline, state in SQLite.

It plays the Azure Functions host and the Durable extension for an unmodified ``function_app.py``: HTTP
triggers (with route templates, ``/{routePrefix}/...``), Service Bus queue triggers and queue output bindings
(on a local durable queue), orchestrators replayed through the app's own Durable SDK, activities on a bounded
pool, sub-orchestrations (``suborchestrations``), durable entities (``entities``), durable HTTP
(``durable_http``), rewind (``rewind``), and the Durable HTTP APIs the SDK's client calls. ``engine`` runs
episodes, work items and timers; ``client`` starts, steers, queries and purges instances (the Durable HTTP API
and ``host.client`` share it); ``store`` holds all of their SQL and the one transaction helper. It imports
nothing of the app's packages.

Public API (for the CLI)::

    host = EmbeddedHost(app_dir: Path, data_dir: Path, *, host="127.0.0.1", port=0,
                        consume_queues=True, activity_grace_s=10.0, allowed_hosts=())
    async with host:                      # or: await host.start() ... await host.stop()
        host.base_url                     # "http://127.0.0.1:<real port>"
        host.port                         # the bound port (port=0 picks a free one)
        host.rpc_base_url                 # the loopback-only listener the app's Durable client calls
        host.keys, host.keys_created      # HostKeys when listening beyond loopback (new: created this start)
        await host.start_new(orchestrator, client_input=None, instance_id=None) -> str
        await host.wait_for_completion(instance_id, timeout=30.0) -> dict | None   # status JSON
        host.get_status(instance_id, *, show_history=False) -> dict | None          # status JSON
        host.raise_event(instance_id, event_name, data=None) -> int                 # 202 / 404 / 410
        host.terminate(instance_id, reason="") -> int                               # 202 / 404 / 410
        host.client -> DurableClient          # all client operations: suspend, resume, purge, restart, rewind...
        host.queue(name=None) -> LocalQueue   # default: the app's Service Bus trigger queue
        host.send(body, *, queue=None, message_id=None, application_properties=None, content_type=None) -> str
        host.client_binding() -> str          # the durable-client binding JSON
    host.run_forever(on_started=None)     # blocking; SIGINT/SIGTERM stop it cleanly (`pipeline serve`)

    # The queue works without a host, from any process on the same state file (`pipeline enqueue`):
    with LocalQueue(state_path(data_dir), "questions") as q:
        q.send(body, message_id=None, application_properties=None, content_type=None) -> str
        q.receive(max_messages=1) -> list[QueueMessage]; q.complete(msg); q.abandon(msg, error)
        q.dead_letters() -> list[DeadLetter]
    list_dead_letters(state_path(data_dir), queue=None) -> list[DeadLetter]   # every queue, without a host
    read_status(state_path(data_dir), instance_id) -> dict | None              # `pipeline status`

    # Checking recorded histories against the current orchestrator (`pipeline replay`), through the same
    # replay core the engine runs every episode with (executor.execute):
    report = checker.check_recording(recorded.read_recording(status_json), handle, source="file.json")

Who may call it (``access``): requests must name an allowed Host (the bound address, localhost, loopback
addresses, ``allowed_hosts``) or get 421; state-changing requests with a foreign ``Origin`` get 403; beyond
loopback, function/admin routes and the Durable HTTP API need a key (``keys``), as on Azure.

Status JSON is the extension's: ``name, instanceId, runtimeStatus, input, customStatus, output, createdTime,
lastUpdatedTime`` (+ ``historyEvents``). Errors at startup (no ``function_app.py``, an unresolved ``%SETTING%``,
bad host.json, an entity function the host cannot run) raise :class:`HostConfigError` with a one-line message;
a second host on the same data directory raises :class:`HostAlreadyRunningError`.
"""

from embedded_host.durable.client import TERMINAL_STATUSES, DurableClient
from embedded_host.functions.config import HostConfigError
from embedded_host.functions.local_queue import DeadLetter, LocalQueue, QueueMessage, list_dead_letters
from embedded_host.host import EmbeddedHost, HostAlreadyRunningError, read_status, state_path

__all__ = [
    "TERMINAL_STATUSES",
    "DeadLetter",
    "DurableClient",
    "EmbeddedHost",
    "HostAlreadyRunningError",
    "HostConfigError",
    "LocalQueue",
    "QueueMessage",
    "list_dead_letters",
    "read_status",
    "state_path",
]
