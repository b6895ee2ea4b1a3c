"""The first `ask` in a state folder builds the sample index: say so, with progress, instead of a silent wait."""

from __future__ import annotations

import sys
import time

from cli.progress import ProgressBar

__all__ = ["build_sample_index", "prepare_state_folder"]


def build_sample_index() -> None:
    """Build the local sample index before the run when it is empty, saying what takes the time.

    Built in this process, so the run's retriever finds it ready (one COUNT query). A failure here is left to
    the run, which builds it again and reports the error through the pipeline as any other step failure.
    """
    from providers.errors import ProviderError
    from providers.factory import prepare_local_index

    began = time.perf_counter()
    announced = False

    def progress(done: int, total: int) -> None:
        nonlocal announced
        if not announced:
            announced = True
            print(
                f"building the sample index ({total} files, first run in this state folder; later runs skip this)",
                file=sys.stderr,
                flush=True,
            )
        bar.update(done, total)

    with ProgressBar("indexing", stream=sys.stderr) as bar:
        try:
            report = prepare_local_index(progress)
        except ProviderError:
            return
    if report is not None:
        print(
            f"built the sample index: {len(report.indexed)} files, {report.chunks} chunks in "
            f"{time.perf_counter() - began:.1f} s",
            file=sys.stderr,
            flush=True,
        )


def prepare_state_folder() -> None:
    """Before a local run: say if the state folder is new, and build the sample index with progress."""
    from cli.environment import data_dir
    from cli.state_folder import announce_new_state_folder

    announce_new_state_folder(data_dir())
    build_sample_index()
