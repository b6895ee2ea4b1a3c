"""The documented Durable Functions patterns, one orchestrator each, plus the activities and starters they use.

Every activity appends one line per execution to a side file under ``CONFORMANCE_MARKERS`` (named by the key in
its input), so a test can count executions across a kill -9 of the host: at-least-once allows a repeat of the
step that was in flight, never a lost one.
"""

import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

CHAINING = "chaining"
FAN_OUT_FAN_IN = "fan_out_fan_in"
EVENT_OR_TIMER = "event_or_timer"
MONITOR = "monitor"
ACTIVITY_RETRY = "activity_retry"
SUB_PARENT = "sub_parent"
SUB_CHILD = "sub_child"
SUB_FAILING_PARENT = "sub_failing_parent"
SUB_RETRY_PARENT = "sub_retry_parent"
FLAKY_CHILD = "flaky_child"
HUMAN_INTERACTION = "human_interaction"
SUSPENDABLE = "suspendable"
DURABLE_HTTP = "durable_http"
REWINDABLE = "rewindable"
REWIND_PARENT = "rewind_parent"
SUB_BY_ID = "sub_by_id"


def _markers() -> Path:
    path = Path(os.environ.get("CONFORMANCE_MARKERS", "/tmp/conformance-markers"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record(key: str, line: str) -> int:
    """Append a line to the key's side file; returns how many lines it has now (this execution included)."""
    path = _markers() / key
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    return len(path.read_text(encoding="utf-8").splitlines())


# -- starters ---------------------------------------------------------------------------------------------------
@bp.route(route="start/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), body)
    return client.create_check_status_response(req, instance_id)


# -- activities -------------------------------------------------------------------------------------------------
@bp.activity_trigger(input_name="step")
def work(step: dict) -> str:
    """One unit of work: recorded, a short sleep (so a kill lands mid-step), its label back."""
    _record(step["key"], str(step["n"]))
    time.sleep(float(step.get("sleep", 0.02)))
    return f"{step['key']}:{step['n']}"


@bp.activity_trigger(input_name="step")
def flaky(step: dict) -> str:
    """Fails until it has run ``fail_times`` times for its key."""
    runs = _record(step["key"], "attempt")
    if runs <= int(step["fail_times"]):
        raise RuntimeError(f"flaky attempt {runs} fails")
    return f"ok after {runs}"


@bp.activity_trigger(input_name="step")
def fragile(step: dict) -> str:
    """Fails until the test drops a ``<key>.fixed`` file beside the side files (the fix before a rewind)."""
    _record(step["key"], "fragile")
    if not (_markers() / f"{step['key']}.fixed").exists():
        raise RuntimeError(f"{step['key']} is broken")
    return "fixed"


# -- patterns ---------------------------------------------------------------------------------------------------
@bp.orchestration_trigger(context_name="context", orchestration=CHAINING)
def chaining(context: df.DurableOrchestrationContext):
    data = context.get_input()
    results = []
    for n in range(int(data["steps"])):
        results.append((yield context.call_activity("work", {"key": data["key"], "n": n, "sleep": data["sleep"]})))
    return results


@bp.orchestration_trigger(context_name="context", orchestration=FAN_OUT_FAN_IN)
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    data = context.get_input()
    tasks = [
        context.call_activity("work", {"key": data["key"], "n": n, "sleep": data["sleep"]})
        for n in range(int(data["width"]))
    ]
    results = yield context.task_all(tasks)
    return len(results)


@bp.orchestration_trigger(context_name="context", orchestration=EVENT_OR_TIMER)
def event_or_timer(context: df.DurableOrchestrationContext):
    data = context.get_input()
    deadline = context.current_utc_datetime + timedelta(seconds=float(data["timeout_s"]))
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("go")
    winner = yield context.task_any([timer, event])
    if winner == event:
        timer.cancel()
        return {"winner": "event", "value": event.result}
    return {"winner": "timer"}


@bp.orchestration_trigger(context_name="context", orchestration=MONITOR)
def monitor(context: df.DurableOrchestrationContext):
    data = context.get_input()
    n = int(data["n"])
    yield context.call_activity("work", {"key": data["key"], "n": n, "sleep": 0})
    if n + 1 >= int(data["until"]):
        return n + 1
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=int(data["every_ms"])))
    context.continue_as_new({**data, "n": n + 1})
    return None


@bp.orchestration_trigger(context_name="context", orchestration=ACTIVITY_RETRY)
def activity_retry(context: df.DurableOrchestrationContext):
    data = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=int(data.get("retry_ms", 50)), max_number_of_attempts=int(data["attempts"])
    )
    try:
        return (yield context.call_activity_with_retry("flaky", options, data))
    except Exception as exc:  # the pattern: an orchestrator catches a failed task
        if data.get("rethrow"):
            raise
        return {"caught": str(exc).splitlines()[0]}


@bp.orchestration_trigger(context_name="context", orchestration=SUB_CHILD)
def sub_child(context: df.DurableOrchestrationContext):
    data = context.get_input()
    if data.get("fail"):
        raise ValueError(f"child {data['key']} refuses")
    first = yield context.call_activity("work", {"key": data["key"], "n": 0, "sleep": data.get("sleep", 0)})
    second = yield context.call_activity("work", {"key": data["key"], "n": 1, "sleep": data.get("sleep", 0)})
    return {"child": context.instance_id, "parent": context.parent_instance_id, "steps": [first, second]}


@bp.orchestration_trigger(context_name="context", orchestration=SUB_PARENT)
def sub_parent(context: df.DurableOrchestrationContext):
    """Children with and without an instance id, in sequence and fanned out."""
    data = context.get_input()
    key, sleep = data["key"], data.get("sleep", 0)
    named = yield context.call_sub_orchestrator(
        SUB_CHILD, {"key": f"{key}-named", "sleep": sleep}, f"{context.instance_id}-named"
    )
    fanned = yield context.task_all(
        [
            context.call_sub_orchestrator(SUB_CHILD, {"key": f"{key}-fan{i}", "sleep": sleep})
            for i in range(int(data.get("width", 2)))
        ]
    )
    return {"named": named, "fanned": fanned}


@bp.orchestration_trigger(context_name="context", orchestration=SUB_FAILING_PARENT)
def sub_failing_parent(context: df.DurableOrchestrationContext):
    data = context.get_input()
    try:
        yield context.call_sub_orchestrator(SUB_CHILD, {"key": data["key"], "fail": True})
    except Exception as exc:  # a failed child arrives as the exception of its task
        if data.get("rethrow"):
            raise
        return {"caught": str(exc)}
    return {"caught": None}


@bp.orchestration_trigger(context_name="context", orchestration=FLAKY_CHILD)
def flaky_child(context: df.DurableOrchestrationContext):
    data = context.get_input()
    result = yield context.call_activity("flaky", data)  # fails the child until it has run fail_times times
    return {"child": context.instance_id, "result": result}


@bp.orchestration_trigger(context_name="context", orchestration=SUB_RETRY_PARENT)
def sub_retry_parent(context: df.DurableOrchestrationContext):
    data = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=int(data.get("retry_ms", 50)), max_number_of_attempts=int(data["attempts"])
    )
    child_id = f"{context.instance_id}-child" if data.get("named") else None
    try:
        return (yield context.call_sub_orchestrator_with_retry(FLAKY_CHILD, options, data, child_id))
    except Exception as exc:
        return {"caught": str(exc).splitlines()[0]}


@bp.orchestration_trigger(context_name="context", orchestration=SUB_BY_ID)
def sub_by_id(context: df.DurableOrchestrationContext):
    """Calls the child the input names, under the id it names (for the cases a host must refuse)."""
    data = context.get_input()
    try:
        return {"result": (yield context.call_sub_orchestrator(data["name"], data.get("input"), data.get("id")))}
    except Exception as exc:
        return {"caught": str(exc)}


@bp.orchestration_trigger(context_name="context", orchestration=HUMAN_INTERACTION)
def human_interaction(context: df.DurableOrchestrationContext):
    """Ask for approval (an activity), wait for the answer raised over HTTP, or escalate after a timeout."""
    data = context.get_input()
    yield context.call_activity("work", {"key": data["key"], "n": 0, "sleep": 0})
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=float(data["timeout_s"])))
    answer = context.wait_for_external_event("Approval")
    winner = yield context.task_any([answer, timeout])
    if winner == answer:
        timeout.cancel()
        context.set_custom_status({"approved_by": answer.result})
        yield context.call_activity("work", {"key": data["key"], "n": 1, "sleep": 0})
        return {"approved": answer.result}
    return {"escalated": True}


@bp.orchestration_trigger(context_name="context", orchestration=SUSPENDABLE)
def suspendable(context: df.DurableOrchestrationContext):
    data = context.get_input()
    first = yield context.call_activity("work", {"key": data["key"], "n": 0, "sleep": 0})
    value = yield context.wait_for_external_event("resume-me")
    second = yield context.call_activity("work", {"key": data["key"], "n": 1, "sleep": 0})
    return {"steps": [first, second], "event": value}


__all__ = ["bp"]


@bp.orchestration_trigger(context_name="context", orchestration=DURABLE_HTTP)
def durable_http(context: df.DurableOrchestrationContext):
    """call_http: the host makes the request (following 202 polling) and returns the response."""
    data = context.get_input()
    response = yield context.call_http(data.get("method", "GET"), data["url"], data.get("content"), data.get("headers"))
    after = yield context.call_activity("work", {"key": data["key"], "n": 0, "sleep": 0})
    return {"status": response["statusCode"], "content": response["content"], "after": after}


@bp.orchestration_trigger(context_name="context", orchestration=REWINDABLE)
def rewindable(context: df.DurableOrchestrationContext):
    """Fails on its middle step until fixed; rewound, it runs only that step again (and what follows)."""
    data = context.get_input()
    step = {"key": data["key"], "n": 0, "sleep": 0}
    if data.get("with_retry"):  # a retried call that succeeds does not stand in a rewind's way
        first = yield context.call_activity_with_retry("work", df.RetryOptions(10, 3), step)
    else:
        first = yield context.call_activity("work", step)
    middle = yield context.call_activity("fragile", {"key": data["key"]})
    last = yield context.call_activity("work", {"key": data["key"], "n": 1, "sleep": data.get("sleep", 0)})
    return [first, middle, last]


@bp.orchestration_trigger(context_name="context", orchestration=REWIND_PARENT)
def rewind_parent(context: df.DurableOrchestrationContext):
    data = context.get_input()
    return {
        "child": (
            yield context.call_sub_orchestrator(REWINDABLE, {"key": data["key"] + "-child"}, data["key"] + "-child")
        )
    }
