"""The conformance app: one orchestrator per documented Durable Functions pattern, run by `pipeline serve`.

Written for tests/conformance; the function app only composes blueprints (entities get a blueprint of their
own beside ``patterns``).
"""

import azure.durable_functions as df
import azure.functions as func
import entities
import patterns

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(entities.bp)
app.register_functions(patterns.bp)
