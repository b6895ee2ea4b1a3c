"""Retrieval and answer evaluation: hit@k, MRR and "does the answer cite an expected source".

`metrics` holds the pure scoring functions, `runner` loads a questions file and runs each question
through the configured embedder, retriever and answer generator. `questions.jsonl` is the set for
the bundled `corpus/`. The CLI front end is `pipeline eval` (`cli/eval_command.py`).
"""

from __future__ import annotations

from evaluation.metrics import QuestionScore, Summary, first_hit_rank, summarize
from evaluation.runner import QUESTIONS_FILE, EvalQuestion, EvalReport, evaluate, load_questions

__all__ = [
    "QUESTIONS_FILE",
    "EvalQuestion",
    "EvalReport",
    "QuestionScore",
    "Summary",
    "evaluate",
    "first_hit_rank",
    "load_questions",
    "summarize",
]
