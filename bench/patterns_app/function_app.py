"""Benchmark app for fan-out/fan-in and sub-orchestrations: no-op activities, so the host and SDK are measured."""

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    width = context.get_input()
    results = yield context.task_all([context.call_activity("noop", i) for i in range(width)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def fan_out_sync(context: df.DurableOrchestrationContext):
    """The same with a plain (sync) activity: each call runs on the host's activity thread pool."""
    width = context.get_input()
    results = yield context.task_all([context.call_activity("noop_sync", i) for i in range(width)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def one_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("noop", 1))


@app.orchestration_trigger(context_name="context")
def one_sub_orchestration(context: df.DurableOrchestrationContext):
    return (yield context.call_sub_orchestrator("child_returns", 1))


@app.orchestration_trigger(context_name="context")
def sub_orchestration_with_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_sub_orchestrator("one_activity", 1))


@app.orchestration_trigger(context_name="context")
def child_returns(context: df.DurableOrchestrationContext):
    return context.get_input()


@app.activity_trigger(input_name="value")
async def noop(value):
    return value


@app.activity_trigger(input_name="value")
def noop_sync(value):
    return value
