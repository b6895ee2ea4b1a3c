"""`pipeline index PATH... [--recreate] [--scope NAME... | --unscoped] [--reanswer]`: ingest documents into the index.

PDF, DOCX, PPTX, XLSX, CSV, Markdown, text and HTML (`ingestion.formats` reads the binary ones). A file that
cannot be read (corrupt, encrypted, a scan without text) is named on its own line with the reason, the
rest is indexed, and the exit code is 1. An interrupted run is resumed by running it again: every file
stored before the interruption has its content hash in the index and is skipped.

The local SQLite index by default; Azure AI Search when `AZURE_SEARCH_ENDPOINT` and
`AZURE_SEARCH_INDEX` are set (the index is created or updated with the embedder's dimensions,
unchanged files are skipped by content hash). Either way the configured embedder makes the vectors,
so queries and documents share one vector space. `--scope` gives every file named these scopes (an
unchanged file only has its scopes rewritten), `--unscoped` removes them, and neither keeps what each
file has, so re-running a plain `pipeline index` never opens a scoped document to every question.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.errors import CliError
from cli.index_report import empty_sources, explain_index
from cli.progress import ProgressBar
from cli.stale_report import tell_stale_answers, track_stale_answers
from config import get_settings
from providers.errors import ProviderError

if TYPE_CHECKING:
    from providers.azure.document_intelligence import DocumentIntelligenceParser
    from providers.azure.search_index import AzureSearchIndexer
    from providers.base import Embedder
    from providers.local.sqlite_index import SqliteIndex

__all__ = ["run_index"]


def run_index(paths: list[str], *, recreate: bool, scopes: list[str] | None = None, reanswer: bool = False) -> int:
    """Index `paths`; `scopes` None keeps each file's scopes, a list (empty: unscoped) replaces them.

    Answers that cited a passage this run changed or deleted get a Stale event (`cli.stale_report`).
    """
    _check_scopes(scopes)
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}")
    from cli.environment import data_dir
    from cli.state_folder import announce_new_state_folder
    from ingestion.ingest import index_paths
    from providers.factory import get_embedder, provider_plan

    on_azure = provider_plan().retrieval.backend == "azure-ai-search"
    try:
        embedder = get_embedder()
        if not on_azure:
            announce_new_state_folder(data_dir())
        writer, where = _azure_writer() if on_azure else _local_writer(embedder)
        writer = track_stale_answers(writer)
        parser = _document_intelligence()
        with writer, parser or contextlib.nullcontext(), ProgressBar("indexing", stream=sys.stderr) as bar:
            report = index_paths(
                paths,
                index=writer,
                embedder=embedder,
                recreate=recreate,
                progress=bar.update,
                scopes=scopes,
                parser=parser,
            )
            empty = empty_sources(writer, report.indexed)
        stale_ok = tell_stale_answers(reanswer=reanswer or get_settings().pipeline_reanswer)
    except ProviderError as error:
        raise CliError(error.message) from error
    failed = f", {len(report.failed)} failed" if report.failed else ""
    print(
        f"indexed {report.files} file(s) into {where} in {report.seconds:.1f} s: "
        f"{len(report.indexed)} new or changed, {len(report.skipped)} unchanged{failed}, "
        + (f"{len(report.rescoped)} with new scopes only, " if report.rescoped else "")
        + f"{report.chunks} chunk(s) written"
    )
    for source, why in report.failed.items():  # one line each; the others are indexed
        print(f"failed {source}: {why}", file=sys.stderr)
    nothing = explain_index(
        paths,
        empty=empty,
        chunks=report.chunks,
        unchanged=len(report.skipped),
        rescoped=len(report.rescoped),
        recreate=recreate,
        on_azure=on_azure,
    )
    if recreate and not on_azure:
        _say_the_samples_are_gone(paths)
    return 1 if report.failed or nothing or not stale_ok else 0


def _check_scopes(scopes: list[str] | None) -> None:
    """A bad --scope is refused before anything is read or embedded, with the rule in the message."""
    from contracts.scopes import InvalidScope, normalise_scopes

    try:
        normalise_scopes(scopes)
    except InvalidScope as invalid:
        raise CliError(f"invalid --scope: {invalid}", 2) from None


def _say_the_samples_are_gone(paths: list[str]) -> None:
    """`--recreate` empties the local index, the bundled sample corpus with it: say so, and how to get it back."""
    from ingestion.sources import CORPUS_DIR

    if any(Path(p).resolve() == CORPUS_DIR for p in paths):
        return
    print(
        f"--recreate emptied the index first: it now holds only what was just indexed, not the bundled "
        f"sample corpus (add it back with `pipeline index {CORPUS_DIR}`)",
        file=sys.stderr,
    )


def _local_writer(embedder: Embedder) -> tuple[SqliteIndex, str]:
    from providers.factory import index_preparer
    from providers.local.sqlite_index import SqliteIndex

    settings = get_settings()
    index_dir = settings.pipeline_data_dir / "index"
    index = SqliteIndex(
        index_dir, embedder=embedder, ann_threshold=settings.pipeline_ann_threshold, preparer=index_preparer()
    )
    return index, str(index.path)


def _document_intelligence() -> DocumentIntelligenceParser | None:
    """Azure AI Document Intelligence for PDFs and images, when its endpoint is set (else the local parsers)."""
    settings = get_settings()
    if not settings.azure_document_intelligence_endpoint:
        return None
    from providers.azure.document_intelligence import DocumentIntelligenceParser

    endpoint = settings.azure_document_intelligence_endpoint
    print(f"reading PDFs and images with Azure AI Document Intelligence ({endpoint})", file=sys.stderr)
    return DocumentIntelligenceParser.from_settings(settings)


def _azure_writer() -> tuple[AzureSearchIndexer, str]:
    from providers.azure.search_index import AzureSearchIndexer

    indexer = AzureSearchIndexer.from_settings(get_settings())
    return indexer, f"Azure AI Search index '{indexer.index_name}'"
