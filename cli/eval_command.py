"""`pipeline eval QUESTIONS.jsonl [--corpus DIR] [--top-k K] [--json-out FILE] [--per-question]`.

Runs each question through the configured embedder, retriever and answer generator (the same
providers `pipeline ask` uses, chosen by `providers.factory`), prints a summary table, and writes
the full report as JSON when asked. `--corpus DIR` scores another document set: DIR is indexed into
a throw-away local index (sources named relative to DIR's parent, as `docs/x.md` for `set/docs`)
and the configured index is left alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cli.errors import CliError
from cli.progress import ProgressBar
from providers.errors import ProviderError

if TYPE_CHECKING:
    from evaluation import EvalReport
    from providers.base import Retriever

__all__ = ["run_eval"]


def run_eval(
    questions_file: str | Path,
    *,
    top_k: int = 3,
    corpus: str | Path | None = None,
    json_out: str | Path | None = None,
    per_question: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    from evaluation import evaluate, load_questions
    from providers.factory import describe_providers, get_embedder, get_generator, get_retriever

    if not 1 <= top_k <= 20:
        raise CliError("--top-k must be 1..20")
    if corpus is not None and not Path(corpus).is_dir():
        raise CliError(f"--corpus: no such directory: {corpus}")
    try:
        questions = load_questions(questions_file)
        providers = describe_providers()
        with _retriever(corpus) as retriever, ProgressBar("evaluating", stream=sys.stderr) as bar:
            if corpus is not None:
                providers["retrieval"] = f"throw-away local index of {corpus}"
            report = evaluate(
                questions,
                embedder=get_embedder(),
                retriever=retriever or get_retriever(),
                generator=get_generator(),
                top_k=top_k,
                providers=providers,
                progress=bar.update,
            )
    except ProviderError as error:
        raise CliError(error.message) from error
    if per_question:
        _print_rows(report, out)
    _print_summary(report, out)
    if json_out is not None:
        try:
            Path(json_out).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            raise CliError(f"cannot write {json_out}: {error.strerror or error}") from error
    return 0


@contextmanager
def _retriever(corpus: str | Path | None) -> Iterator[Retriever | None]:
    """None (use the configured retriever), or a temporary local index of `corpus`."""
    if corpus is None:
        yield None
        return
    from ingestion.ingest import index_paths
    from providers.factory import get_embedder
    from providers.local.sqlite_index import SqliteIndex

    root = Path(corpus).resolve()
    embedder = get_embedder()
    with (
        tempfile.TemporaryDirectory(prefix="pipeline-eval-") as scratch,
        SqliteIndex(scratch, embedder=embedder) as index,
    ):
        with ProgressBar("indexing", stream=sys.stderr) as bar:
            index_paths([root], index=index, embedder=embedder, base=root.parent, progress=bar.update)
        yield index


def _print_rows(report: EvalReport, out: TextIO) -> None:
    out.write(f"{'rank':>4}  {'result':<14}  question\n")
    for score in report.scores:
        rank = str(score.rank) if score.rank else "-"
        if not score.answerable:
            result = "refused" if score.refused else "ANSWERED"
        elif score.refused:
            result = "FALSE REFUSAL"
        else:
            result = ("cites" if score.cites_expected else "WRONG SOURCE") + (
                "" if score.on_point is not False else ", OFF"
            )
            result += ", WRONG PAGE" if score.cites_expected_page is False and score.cites_expected else ""
        out.write(f"{rank:>4}  {result:<14}  {score.question}\n")
    out.write("\n")


def _print_summary(report: EvalReport, out: TextIO) -> None:
    s = report.summary
    where = report.providers
    rows = [
        ("questions", f"{s.questions} ({s.answerable} answerable, {s.unanswerable} not)"),
        ("hit@1", f"{s.hit_at_1:.3f}"),
        ("hit@3", f"{s.hit_at_3:.3f}"),
    ]
    if s.top_k not in (1, 3):
        rows.append((f"hit@{s.top_k}", f"{s.hit_at_k:.3f}"))
    rows += [
        ("MRR", f"{s.mrr:.3f}"),
        ("answer cites expected", f"{s.answer_cites_expected:.3f}"),
        ("on point", f"{s.on_point:.3f}"),
        ("leads on point", f"{s.leads_on_point:.3f}"),
        ("sentences cited", f"{s.sentences_cited:.3f}"),
        ("false refusals", f"{s.false_refusals:.3f}"),
    ]
    if any(score.expected_page is not None for score in report.scores):
        rows.append(("cites the expected page", f"{s.page_exact:.3f}"))
    if s.unanswerable:
        rows.append(("refusal on unanswerable", f"{s.refusal_on_unanswerable:.3f}"))
    rows += [("correct", f"{s.correct:.3f}"), ("mean ms per question", f"{s.mean_seconds * 1000:.1f}")]
    if s.confidence_brier is not None:
        # Against "an expected source was among the passages": how far to trust `confidence` as a probability.
        rows.append(("confidence Brier score", f"{s.confidence_brier:.3f}"))
        rows += [
            (f"  confidence {name}", f"{count} q, mean {mean:.2f}, answerable {observed:.2f}")
            for name, count, mean, observed in s.confidence_bands
        ]
    out.write(
        f"embeddings: {where.get('embeddings', '?')}, retrieval: {where.get('retrieval', '?')}, "
        f"generation: {where.get('generation', '?')}\n"
    )
    for label, value in rows:
        out.write(f"{label:<26}{value}\n")
