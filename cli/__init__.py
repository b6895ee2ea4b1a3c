"""The `pipeline` command: ask, serve, enqueue, dead-letters, index, status, events."""
