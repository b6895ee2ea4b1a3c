"""The pipeline orchestrator and how it retries a step. No I/O here: only `context` calls."""
