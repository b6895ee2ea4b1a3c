"""Benchmark app for the embedded host: four no-op activities in sequence."""

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def four_steps(context: df.DurableOrchestrationContext):
    value = context.get_input()
    for _ in range(4):
        value = yield context.call_activity("noop", value)
    return value


@app.orchestration_trigger(context_name="context")
def many_steps(context: df.DurableOrchestrationContext):
    steps = context.get_input()
    for i in range(steps):
        yield context.call_activity("noop", i)
    return steps


@app.activity_trigger(input_name="value")
async def noop(value):
    return value
