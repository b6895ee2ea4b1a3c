"""Service providers behind the activities: one interface per role, local and Azure implementations.

`providers.base` holds the interfaces and value types, `providers.errors` the one error hierarchy,
`providers.plan` the backend of each role resolved from settings once (with the GenAI attributes
telemetry reads), and `providers.factory` builds what the plan names. `providers.azure` and
`providers.local` hold the implementations; Azure SDKs are imported only inside their modules.
Ingestion, which fills an index, is the top-level `ingestion` package.
"""
