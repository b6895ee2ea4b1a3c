"""`pipeline eval QUESTIONS.jsonl [--top-k K] [--json-out FILE] [--per-question]`: score retrieval and answers.

Runs each question through the configured embedder, retriever and answer generator (the same
providers `pipeline ask` uses, chosen by `providers.factory`), prints a summary table, and writes
the full report as JSON when asked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from cli.errors import CliError
from providers.errors import ProviderError

__all__ = ["run_eval"]


def run_eval(
    questions_file: str | Path,
    *,
    top_k: int = 3,
    json_out: str | Path | None = None,
    per_question: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    from evaluation import evaluate, load_questions
    from providers.factory import describe_providers, get_embedder, get_generator, get_retriever

    if not 1 <= top_k <= 20:
        raise CliError("--top-k must be 1..20")
    try:
        questions = load_questions(questions_file)
        report = evaluate(
            questions,
            embedder=get_embedder(),
            retriever=get_retriever(),
            generator=get_generator(),
            top_k=top_k,
            providers=describe_providers(),
        )
    except ProviderError as error:
        raise CliError(error.message) from error
    if per_question:
        out.write(f"{'rank':>4}  {'cites':<5}  question\n")
        for score in report.scores:
            rank = str(score.rank) if score.rank else "-"
            out.write(f"{rank:>4}  {'yes' if score.cites_expected else 'no':<5}  {score.question}\n")
        out.write("\n")
    s = report.summary
    where = report.providers
    out.write(f"embeddings: {where.get('embeddings', '?')}, retrieval: {where.get('retrieval', '?')}\n")
    out.write(f"{'questions':<24}{s.questions}\n")
    out.write(f"{'hit@1':<24}{s.hit_at_1:.3f}\n")
    out.write(f"{'hit@3':<24}{s.hit_at_3:.3f}\n")
    if s.top_k not in (1, 3):
        out.write(f"{f'hit@{s.top_k}':<24}{s.hit_at_k:.3f}\n")
    out.write(f"{'MRR':<24}{s.mrr:.3f}\n")
    out.write(f"{'answer cites expected':<24}{s.answer_cites_expected:.3f}\n")
    out.write(f"{'mean ms per question':<24}{s.mean_seconds * 1000:.1f}\n")
    if json_out is not None:
        try:
            Path(json_out).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            raise CliError(f"cannot write {json_out}: {error.strerror or error}") from error
    return 0
