"""The no-op twin of the real app, for bench/pipeline.py: the same HTTP start route and four activities in
sequence, each returning at once, so the ratio of the two apps' throughput is what the answer work costs."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="pipeline/start", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_pipeline(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_json()
    instance_id = await client.start_new("four_steps", None, body)
    return func.HttpResponse(json.dumps({"instance_id": instance_id}), status_code=202, mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def four_steps(context: df.DurableOrchestrationContext):
    value = context.get_input()
    for step in ("embed_query", "search_documents", "generate_answer", "publish_result"):
        value = yield context.call_activity("noop", {"step": step, "value": value})
    return value


@app.activity_trigger(input_name="value")
async def noop(value: dict) -> dict:
    return value["value"]
