"""`pipeline status` and `pipeline events`: read the local state without starting a host."""

from __future__ import annotations

from cli.environment import data_dir
from cli.errors import CliError
from cli.exit_codes import ExitCode, for_runtime_status
from cli.output import print_result

__all__ = ["run_status"]


def run_status(instance_id: str, *, as_json: bool) -> int:
    from embedded_host import read_status, state_path
    from triggers.status import status_view_from_json

    raw = read_status(state_path(data_dir()), instance_id) if state_path(data_dir()).exists() else None
    if raw is None:
        raise CliError(_not_found(instance_id), ExitCode.USAGE)
    view = status_view_from_json(raw)
    if as_json:
        print(view.model_dump_json(indent=2, exclude_none=True))
    elif view.runtime_status == "Completed":
        print_result(view.model_dump(mode="json"))
    else:
        where = f" at {view.step} (attempt {view.attempt})" if view.step else ""
        print(f"{view.instance_id}: {view.runtime_status}{where}" + (f": {view.error}" if view.error else ""))
    # Scripts read the outcome from the code, as after `pipeline ask`.
    return for_runtime_status(view.runtime_status)


def _not_found(instance_id: str) -> str:
    """No run by that id; a queue message that never became a run was dead-lettered, so say where to look."""
    from cli.queue_commands import local_dead_letter

    letter = local_dead_letter(instance_id)
    if letter is not None:
        return (
            f"no run with id '{instance_id}': message {instance_id} was dead-lettered "
            f"({letter.get('reason')}: {letter.get('description')}); see `pipeline dead-letters`"
        )
    return f"no run with id '{instance_id}' in {data_dir()}"
