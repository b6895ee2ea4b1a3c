"""The places the embedded host reaches into the Durable SDK's internals, checked against the installed SDK.

None has a public option: the SDK parses history timestamps through a module-level ``dt_parse`` (the host
memoises it, ~70 % of replay CPU), builds a ``namedtuple`` class in every orchestration executor (the host
shares one), and keeps one aiohttp session per process with only a private ``_close_session`` (the host
closes it when its event loop ends, or aiohttp warns about an unclosed session). Each hook is a no-op when
the internal is missing, so the app keeps running; these tests are what fails loudly when an SDK upgrade
moves them.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect

from embedded_host.durable import timeutil
from embedded_host.durable.sdk_shortcuts import install_sdk_shortcuts
from embedded_host.host import _close_sdk_session


def test_history_timestamps_are_parsed_through_a_module_level_dt_parse() -> None:
    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    assert callable(getattr(module, "dt_parse", None)), "the SDK no longer parses history times via dt_parse"
    timeutil.install_parse_cache()
    assert hasattr(module.dt_parse, "__wrapped__"), "install_parse_cache did not take effect"
    original = module.dt_parse.__wrapped__
    text = "2026-11-27T10:00:00.123456Z"
    assert module.dt_parse(text) == original(text)
    assert module.dt_parse(text).tzinfo == original(text).tzinfo


def test_the_sdk_http_session_has_a_close_coroutine() -> None:
    module = importlib.import_module("azure.durable_functions.models.utils.http_utils")
    closer = getattr(module, "_close_session", None)
    assert closer is not None and inspect.iscoroutinefunction(closer), "the SDK's session closer moved"
    asyncio.run(_close_sdk_session())  # with no session open it is a no-op, not an error


def test_each_orchestration_executor_shares_its_payload_class_once_the_shortcuts_are_in() -> None:
    module = importlib.import_module("azure.durable_functions.models.TaskOrchestrationExecutor")
    assert getattr(module, "namedtuple", None) is not None, "the SDK's executor no longer builds a namedtuple"
    install_sdk_shortcuts()
    first, second = module.TaskOrchestrationExecutor(), module.TaskOrchestrationExecutor()
    payload = [type(p) for e in (first, second) for p in e.event_to_SetTaskValuePayload.values()]
    assert len(set(payload)) == 1, "each executor still builds a class of its own"
    completed = next(iter(first.event_to_SetTaskValuePayload.values()))
    assert completed.is_success is True and completed.task_id_key == "TaskScheduledId"


def test_an_orchestrator_registered_through_the_sdk_can_keep_a_session() -> None:
    """Extended sessions (sessions.py) need the user's function behind the SDK's handle and the executor's
    step-by-step methods; without them every episode would silently replay in full again."""
    import azure.durable_functions as df

    from embedded_host.durable.sessions import session_for

    app = df.DFApp()

    @app.orchestration_trigger(context_name="context")
    def probe(context: df.DurableOrchestrationContext):
        yield context.call_activity("x", None)

    handle = app.get_functions()[0].get_user_function()
    assert session_for(handle) is not None, "the SDK's handle or executor layout moved"
