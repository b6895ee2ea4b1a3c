"""Test app for the embedded host: starters, orchestrators (retry, timers, events), activities, a queue trigger."""

import json
import os
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _marker_dir() -> Path:
    path = Path(os.environ.get("TEST_MARKER_DIR", "/tmp/embedded-host-markers"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_json() if req.get_body() else None
    instance_id = req.params.get("id")
    instance_id = await client.start_new(req.route_params["name"], instance_id, body)
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instance_id"])
    if not status:
        return func.HttpResponse("not found", status_code=404)
    return func.HttpResponse(
        json.dumps({"status": status.runtime_status.value, "output": status.output}), mimetype="application/json"
    )


@app.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"len": len(req.get_body()), "method": req.method, "q": dict(req.params)}),
        mimetype="application/json",
    )


@app.route(route="keyed/echo", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
def keyed_echo(req: func.HttpRequest) -> func.HttpResponse:
    """What a function-level route's function sees of the request (the host keeps the key to itself)."""
    seen = {"url": req.url, "q": dict(req.params), "headers": sorted(k.lower() for k in req.headers)}
    return func.HttpResponse(json.dumps(seen), mimetype="application/json")


@app.route(route="admin/ping", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@app.route(route="events/{instance_id}/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_raise(req: func.HttpRequest, client) -> func.HttpResponse:
    await client.raise_event(req.route_params["instance_id"], req.route_params["name"], req.get_json())
    return func.HttpResponse(status_code=202)


@app.route(route="terminate/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_terminate(req: func.HttpRequest, client) -> func.HttpResponse:
    await client.terminate(req.route_params["instance_id"], "by test")
    return func.HttpResponse(status_code=202)


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    data = context.get_input() or {}
    results = []
    for i in range(int(data.get("steps", 3))):
        results.append((yield context.call_activity("add_one", i)))
    context.set_custom_status({"done": len(results)})
    return results


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    data = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=data["attempts"])
    value = yield context.call_activity_with_retry("flaky", options, data)
    return value


@app.orchestration_trigger(context_name="context")
def manual_retry(context: df.DurableOrchestrationContext):
    data = context.get_input()
    for attempt in range(1, 6):
        try:
            value = yield context.call_activity("flaky", data)
            return {"value": value, "attempt": attempt}
        except Exception:
            yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=30))
    raise RuntimeError("gave up")


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    tasks = [context.call_activity("add_one", i) for i in range(5)]
    values = yield context.task_all(tasks)
    return sum(values)


@app.orchestration_trigger(context_name="context")
def wait_event(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    approval = context.wait_for_external_event("approve")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        return {"approved": approval.result}
    return {"approved": None}


@app.orchestration_trigger(context_name="context")
def slow(context: df.DurableOrchestrationContext):
    data = context.get_input()
    out = []
    for i in range(data["steps"]):
        out.append(
            (yield context.call_activity("record", {"key": data["key"], "step": i, "sleep": data.get("sleep", 0.05)}))
        )
    return out


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", None)
    return "unreachable"


@app.activity_trigger(input_name="value")
def add_one(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="data")
def flaky(data: dict) -> str:
    """Fails data['fail_times'] times per key, then succeeds (counts kept in files: survives restarts)."""
    marker = _marker_dir() / f"flaky-{data['key']}"
    count = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(count + 1))
    if count < data["fail_times"]:
        raise ValueError(f"flaky failure {count + 1}")
    return f"ok after {count + 1}"


@app.activity_trigger(input_name="data")
async def record(data: dict) -> str:
    """Appends one line per run, so a test can count how often each step really ran."""
    import asyncio

    await asyncio.sleep(data["sleep"])
    with open(_marker_dir() / f"record-{data['key']}", "a") as fh:
        fh.write(f"{data['step']}\n")
    return f"step {data['step']}"


@app.activity_trigger(input_name="data")
def boom(data) -> None:
    raise RuntimeError("kaboom")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%TEST_QUEUE%", connection="ServiceBusConnection")
@app.service_bus_queue_output(arg_name="dead", queue_name="test-deadletter", connection="ServiceBusConnection")
@app.durable_client_input(client_name="client")
async def from_queue(msg: func.ServiceBusMessage, dead: func.Out[str], client) -> None:
    text = msg.get_body().decode()
    if text == "invalid":
        dead.set(
            json.dumps({"DeadLetterReason": "InvalidQuestion", "DeadLetterErrorDescription": "bad body", "body": text})
        )
        return
    if text == "explode":
        raise RuntimeError("consumer exploded")
    await client.start_new("sequence", msg.message_id, {"steps": 2})


@app.orchestration_trigger(context_name="context")
def drifting(context: df.DurableOrchestrationContext):
    """Takes a different first step when NONDET_MODE=b: changing code under a running instance."""
    first = "add_one" if os.environ.get("NONDET_MODE", "a") == "a" else "boom"
    yield context.call_activity(first, 1)
    yield context.wait_for_external_event("go")
    return "done"


@app.orchestration_trigger(context_name="context")
def collect_events(context: df.DurableOrchestrationContext):
    """Waits for the events named in the input, one after another, after one activity: events raised before
    their wait must be buffered."""
    yield context.call_activity("add_one", 0)
    values = []
    for name in context.get_input()["names"]:
        values.append((yield context.wait_for_external_event(name)))
    return values


@app.orchestration_trigger(context_name="context")
def timer_then_event(context: df.DurableOrchestrationContext):
    """A short timer, then an event: both may arrive while the instance is suspended."""
    data = context.get_input() or {}
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=int(data.get("ms", 200))))
    value = yield context.wait_for_external_event("go")
    step = yield context.call_activity("add_one", 1)
    return {"event": value, "step": step}


@app.route(route="suspend/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_suspend(req: func.HttpRequest, client) -> func.HttpResponse:
    await client.suspend(req.route_params["instance_id"], req.params.get("reason", "by test"))
    return func.HttpResponse(status_code=202)


@app.route(route="resume/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_resume(req: func.HttpRequest, client) -> func.HttpResponse:
    await client.resume(req.route_params["instance_id"], req.params.get("reason", "by test"))
    return func.HttpResponse(status_code=202)
