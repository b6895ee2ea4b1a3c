"""The four activity functions. Each is thin: validate input, call one provider, return a contract.

The activity functions are annotated with plain classes (`payload: dict) -> dict`), not `Any` or
`dict[str, Any]`: the Functions Python worker checks trigger annotations with `isinstance(..., type)`,
which `typing.Any` fails before Python 3.11 and a parametrised generic may fail too. The payload is
the JSON object the orchestrator sent; `run_step` validates it with the step's contract model.
"""
