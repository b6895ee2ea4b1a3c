"""`pipeline status` and `pipeline events`: read the local state without starting a host."""

from __future__ import annotations

import json

from cli.environment import data_dir
from cli.errors import CliError
from cli.output import print_result

__all__ = ["run_events", "run_status"]


def run_status(instance_id: str, *, as_json: bool) -> int:
    from embedded_host import read_status, state_path
    from triggers.status import status_view_from_json

    raw = read_status(state_path(data_dir()), instance_id) if state_path(data_dir()).exists() else None
    if raw is None:
        raise CliError(f"no run with id '{instance_id}' in {data_dir()}")
    view = status_view_from_json(raw)
    if as_json:
        print(view.model_dump_json(indent=2, exclude_none=True))
    elif view.runtime_status == "Completed":
        print_result(view.model_dump(mode="json"))
    else:
        where = f" at {view.step} (attempt {view.attempt})" if view.step else ""
        print(f"{view.instance_id}: {view.runtime_status}{where}" + (f": {view.error}" if view.error else ""))
    return 0


def run_events(*, follow: bool) -> int:
    from providers.local.events import read_events

    try:
        for event in read_events(data_dir(), follow=follow):
            print(json.dumps(event), flush=True)
    except KeyboardInterrupt:
        pass
    return 0
