"""Durable entities, as the Python SDK documents them: a function-based counter, an orchestrator that signals
and calls it, and HTTP functions that signal it and read its state through the durable client.

The orchestrator returns every value its calls saw, so a test can tell a lost operation (a value missing at
the end) from one applied twice (a gap in the sequence), across a kill -9 of the host.
"""

import json
import time

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

COUNTER = "Counter"
COUNTER_WORKFLOW = "counter_workflow"
COUNTER_ROUNDS = "counter_rounds"


@bp.entity_trigger(context_name="context", entity_name=COUNTER)
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation in ("add", "add_slowly"):
        if operation == "add_slowly":
            time.sleep(0.003)  # stands for an operation's real work; lets a kill -9 land mid-batch
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif operation == "get":
        context.set_result(value)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "fail":
        raise ValueError(f"counter {context.entity_key} refuses")
    elif operation == "delete":
        context.destruct_on_exit()
    else:
        raise ValueError(f"unknown operation {operation!r}")


@bp.orchestration_trigger(context_name="context", orchestration=COUNTER_WORKFLOW)
def counter_workflow(context: df.DurableOrchestrationContext):
    """Input ``{"key", "signals", "calls", "slow", "entity"}``: signal ``add 1`` ``signals`` times
    (``add_slowly`` when ``slow``), then call ``add 1`` ``calls`` times; ``entity`` names another entity."""
    order = context.get_input()
    entity = df.EntityId(order.get("entity", COUNTER), order["key"])
    for _ in range(order["signals"]):
        context.signal_entity(entity, "add_slowly" if order.get("slow") else "add", 1)
    seen = []
    for _ in range(order["calls"]):
        seen.append((yield context.call_entity(entity, "add", 1)))
    try:
        yield context.call_entity(entity, "fail")
        error = None
    except Exception as exc:  # the entity's exception, as the SDK rethrows it
        error = str(exc)
    final = yield context.call_entity(entity, "get")
    return {"seen": seen, "error": error, "final": final}


@bp.orchestration_trigger(context_name="context", orchestration=COUNTER_ROUNDS)
def counter_rounds(context: df.DurableOrchestrationContext):
    """The monitor shape: input ``{"key", "rounds"}``; each round signals ``add 1`` and continues as new."""
    order = context.get_input()
    context.signal_entity(df.EntityId(COUNTER, order["key"]), "add", 1)
    if order["rounds"] > 1:
        context.continue_as_new({**order, "rounds": order["rounds"] - 1})
        return None
    return "done"


@bp.route(route="counters/{key}", methods=["POST", "GET"])
@bp.durable_client_input(client_name="client")
async def counter_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST ``?op=add&value=N&times=T`` signals the counter T times; GET reads its state."""
    entity = df.EntityId(COUNTER, req.route_params["key"])
    if req.method == "POST":
        value = json.loads(req.params.get("value", "null"))
        for _ in range(int(req.params.get("times", "1"))):
            await client.signal_entity(entity, req.params.get("op", "add"), value)
        return func.HttpResponse(status_code=202)
    state = await client.read_entity_state(entity)
    body = {"exists": state.entity_exists, "state": state.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
