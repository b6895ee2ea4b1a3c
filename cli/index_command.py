"""`pipeline index PATH... [--recreate]`: ingest documents into the configured index."""

from __future__ import annotations

import sys
from pathlib import Path

from cli.errors import CliError
from cli.progress import ProgressBar
from config import get_settings

__all__ = ["run_index"]


def run_index(paths: list[str], *, recreate: bool) -> int:
    settings = get_settings()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}")
    if settings.azure_search_endpoint and settings.azure_search_index:
        raise CliError(
            "indexing into Azure AI Search is not supported by this command yet; "
            "unset AZURE_SEARCH_ENDPOINT to build the local index"
        )
    from providers.factory import get_embedder
    from providers.local.ingest import index_paths
    from providers.local.sqlite_index import SqliteIndex

    embedder = get_embedder()
    index = SqliteIndex(settings.pipeline_data_dir / "index", embedder=embedder)
    with ProgressBar("indexing", stream=sys.stderr) as bar:
        report = index_paths(paths, index=index, embedder=embedder, recreate=recreate, progress=bar.update)
    print(
        f"indexed {report.files} file(s) into {index.path} in {report.seconds:.1f} s: "
        f"{len(report.indexed)} new or changed, {len(report.skipped)} unchanged, {report.chunks} chunk(s) written"
    )
    for source, why in report.failed.items():
        print(f"skipped {source}: {why}", file=sys.stderr)
    return 1 if report.failed else 0
