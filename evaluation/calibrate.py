"""Fit the local answerer's weights and refusal threshold on the development sets.

    python -m evaluation.calibrate            # fit, print leave-one-set-out results, write nothing
    python -m evaluation.calibrate --write    # ... and write providers/local/answerer_weights.json

The development sets are the bundled corpus with `evaluation/questions.jsonl` and every
`evaluation/sets/NAME/` (its `docs/` and `questions.jsonl`). Each set is indexed with MiniLM, each
question retrieves its top-k passages as the pipeline would, and the answerer's features are read
for every candidate sentence. A sentence is a positive example when it comes from an expected
source and holds one of the question's expected terms (the key fact); every sentence shown for an
unanswerable question is a negative one. Two logistic models are fitted (sentence odds; "do the
passages answer at all" from the best odds, the runner-up, the best cosine and the uncovered
question words, and how well the question's least-matched word is matched) and the threshold is
the highest that refuses at most FALSE_REFUSAL_BUDGET of the answerable development questions.

Generalisation is checked by leaving each set out in turn: fit on the others, score the one left
out. Those are the numbers to trust; the in-sample numbers are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from evaluation.metrics import Summary, summarize
from evaluation.runner import QUESTIONS_FILE, EvalQuestion, load_questions, score_answer
from ingestion.ingest import index_paths
from ingestion.sources import CORPUS_DIR
from providers.base import Passage
from providers.citations import MARKER
from providers.local.answer_features import (
    PASSAGE_MEASURES,
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    question_features,
)
from providers.local.extractive import WEIGHTS_FILE, AnswererWeights, ExtractiveAnswerer
from providers.local.minilm_embedder import MiniLMEmbedder
from providers.local.sentence_vectors import SentenceVectors
from providers.local.sqlite_index import SqliteIndex

__all__ = ["DevSet", "dev_sets", "fit", "main"]

SETS_DIR = Path(__file__).resolve().parent / "sets"
# The share of answerable development questions the refusal threshold may refuse. The project's target
# is 5 % on corpora it has not seen; leaving each set out, false refusals ran up to twice the budget
# the threshold was fitted with, and 3 % kept every held-out set near or under 5 % while refusing as
# many unanswerable questions as 5 % did (bench/RESULTS-retrieval.md).
FALSE_REFUSAL_BUDGET = 0.03
LISTWISE_L2 = 1e-2  # flat between 1e-2 and 1e-1 leaving each set out; 1e-3 overfits (bench/RESULTS-retrieval.md)
_THRESHOLDS = np.round(np.arange(0.01, 0.96, 0.01), 3)
_MARGINS = (0.5, 1.0, 1.5, 2.0, 3.0)
_MIN_SENTENCE = (-3.0, -2.0, -1.0, 0.0)


@dataclass(frozen=True, slots=True)
class DevSet:
    name: str
    corpus: Path  # indexed with sources relative to its parent
    questions: Path


@dataclass(slots=True)
class _Example:
    set_name: str
    question: EvalQuestion
    passages: list[Passage]
    features: np.ndarray  # per sentence
    labels: np.ndarray  # per sentence, 1 = states the key fact
    passage_measures: np.ndarray  # the question features that need the passages (PASSAGE_MEASURES)


def dev_sets() -> list[DevSet]:
    sets = [DevSet("project", CORPUS_DIR, QUESTIONS_FILE)]
    if SETS_DIR.is_dir():
        for folder in sorted(p for p in SETS_DIR.iterdir() if (p / "questions.jsonl").is_file()):
            sets.append(DevSet(folder.name, folder / "docs", folder / "questions.jsonl"))
    return sets


Retrieved = list[tuple[str, EvalQuestion, list[Passage]]]  # (set name, question, passages given to the answerer)


def _retrieve(sets: Sequence[DevSet], embedder: MiniLMEmbedder, top_k: int) -> Retrieved:
    """Each development question with the passages the pipeline would give the answer step."""
    found: Retrieved = []
    for dev in sets:
        questions = load_questions(dev.questions)
        with tempfile.TemporaryDirectory() as scratch, SqliteIndex(scratch, embedder=embedder) as index:
            index_paths([dev.corpus], index=index, embedder=embedder, base=dev.corpus.parent)
            query_vectors = embedder.embed_array([q.question for q in questions])
            for question, vector in zip(questions, query_vectors, strict=True):
                found.append((dev.name, question, index.search(question.question, vector, top_k=top_k)))
        print(f"  {dev.name}: {len(questions)} questions", file=sys.stderr)
    return found


def _measure(
    retrieved: Sequence[tuple[str, EvalQuestion, list[Passage]]], vectors: SentenceVectors | None
) -> list[_Example]:
    """The answerer's features for each question, as it measures them with (or without) a sentence model."""
    # Only its measurements are used, so any weights do: neutral ones keep calibration free of the weights file.
    zeros = np.zeros(len(SENTENCE_FEATURES)), np.zeros(len(QUESTION_FEATURES))
    neutral = AnswererWeights(zeros[0], 0.0, zeros[1], 0.0, 0.5, 1.0, -1.0)
    probe = ExtractiveAnswerer(vectors, weights=neutral)
    examples: list[_Example] = []
    for set_name, question, passages in retrieved:
        analysis = probe.analyse(question.question, passages)
        if analysis is None:
            continue
        labels = np.array([_positive(question, passages[s.passage], s.text) for s in analysis.sentences])
        measures = analysis.question[len(QUESTION_FEATURES) - len(PASSAGE_MEASURES) :]
        examples.append(_Example(set_name, question, passages, analysis.features, labels, measures))
    return examples


def _positive(question: EvalQuestion, passage: Passage, text: str) -> float:
    if passage.source not in question.expected_sources:
        return 0.0
    if not question.expected_terms:
        return 1.0
    lowered = text.lower()
    return float(any(term.lower() in lowered for term in question.expected_terms))


def _logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 200) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method, classes weighted to balance."""
    if len(set(y.tolist())) < 2:
        raise SystemExit("calibration needs both positive and negative examples")
    weights = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    design = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -40, 40)))
        gradient = design.T @ (weights * (p - y)) / len(y) + penalty * beta
        hessian = (design.T * (weights * p * (1 - p))) @ design / len(y) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def _question_rows(examples: Sequence[_Example], sentence: np.ndarray, bias: float) -> np.ndarray:
    semantic = SENTENCE_FEATURES.index("semantic")
    return np.array(
        [question_features(e.features @ sentence + bias, e.features[:, semantic], e.passage_measures) for e in examples]
    )


def fit(examples: Sequence[_Example], vectors: SentenceVectors, *, lexical: bool = False) -> AnswererWeights:
    """Weights, threshold and selection margins fitted on `examples`.

    `lexical` fits the variant for an answerer without a sentence model, on examples measured
    without one (`_measure(..., None)`); its selection is then tried without `vectors`, as it runs.
    """
    columns = _columns(lexical)
    # The direction ranks each question's sentences (the answerer quotes its best ones); a one-feature
    # logistic fit along it turns the ranking into log-odds comparable across questions (the gate reads them).
    direction = _listwise(examples, columns)
    x = np.vstack([e.features for e in examples])[:, columns] @ direction
    y = np.concatenate([e.labels for e in examples])
    (scale,), sentence_bias = _logistic(x[:, None], y)
    sentence = np.zeros(len(SENTENCE_FEATURES))
    sentence[columns] = scale * direction
    q_columns = [i for i, name in enumerate(QUESTION_FEATURES) if not (lexical and name == "best_semantic")]
    q_rows = _question_rows(examples, sentence, sentence_bias)[:, q_columns]
    answerable = np.array([float(bool(e.question.expected_sources)) for e in examples])
    q_coefficients, question_bias = _logistic(q_rows, answerable)
    question = np.zeros(len(QUESTION_FEATURES))
    question[q_columns] = q_coefficients
    draft = AnswererWeights(sentence, sentence_bias, question, question_bias, 0.5, 1.0, -1.0)
    threshold = _best_threshold(examples, draft)
    margin, floor = _best_selection(examples, draft, threshold, None if lexical else vectors)
    return AnswererWeights(sentence, sentence_bias, question, question_bias, threshold, margin, floor)


def _listwise(examples: Sequence[_Example], columns: list[int], *, l2: float = LISTWISE_L2) -> np.ndarray:
    """Sentence weights that rank each answerable question's key-fact sentences above its other sentences.

    Maximises the mean log-probability, under a softmax over one question's sentences, of its
    positive ones (a listwise ranking loss), L2-regularised, by gradient descent with backtracking.
    A per-sentence classifier fitted over all questions at once ranks worse within a question: it
    also spends its weights separating easy questions from hard ones.
    """
    groups = [
        (e.features[:, columns], e.labels > 0)
        for e in examples
        if e.question.expected_sources and 0 < e.labels.sum() < len(e.labels)
    ]
    if not groups:
        raise SystemExit("calibration needs answerable questions with a key-fact sentence among others")

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = 0.0, np.zeros_like(w)
        for x, positive in groups:
            s = x @ w
            odds = np.exp(s - s.max())
            every, kept = odds / odds.sum(), odds * positive
            total -= math.log(kept.sum() / odds.sum())
            gradient += x.T @ (every - kept / kept.sum())
        return total / len(groups) + l2 * float(w @ w), gradient / len(groups) + 2 * l2 * w

    w = np.zeros(len(columns))
    value, gradient = loss(w)
    step = 1.0
    for _ in range(500):
        while True:
            candidate = w - step * gradient
            new_value, new_gradient = loss(candidate)
            if new_value <= value - 1e-4 * step * float(gradient @ gradient) or step < 1e-8:
                break
            step /= 2
        converged = value - new_value < 1e-9
        w, value, gradient, step = candidate, new_value, new_gradient, step * 2
        if converged:
            break
    return w


def _columns(lexical: bool) -> list[int]:
    return [i for i, name in enumerate(SENTENCE_FEATURES) if not (lexical and name.startswith("semantic"))]


def _probabilities(examples: Sequence[_Example], weights: AnswererWeights) -> np.ndarray:
    rows = _question_rows(examples, weights.sentence, weights.sentence_bias)
    return 1.0 / (1.0 + np.exp(-(rows @ weights.question + weights.question_bias)))


def _best_threshold(examples: Sequence[_Example], weights: AnswererWeights) -> float:
    """The highest threshold that refuses at most FALSE_REFUSAL_BUDGET of the answerable questions.

    The refusal signal is weak (see the gate AUC this script prints), so no threshold both refuses
    most unanswerable questions and few answerable ones; this one refuses as many as the budget for
    false refusals allows, which is the project's stricter target.
    """
    p = _probabilities(examples, weights)
    answerable = np.array([bool(e.question.expected_sources) for e in examples])
    best = float(_THRESHOLDS[0])
    for threshold in _THRESHOLDS:
        if (p[answerable] < threshold).mean() <= FALSE_REFUSAL_BUDGET:
            best = float(threshold)
    return best


def _best_selection(
    examples: Sequence[_Example], draft: AnswererWeights, threshold: float, vectors: SentenceVectors | None
) -> tuple[float, float]:
    best, best_score = (1.0, -1.0), -1.0
    for margin in _MARGINS:
        for floor in _MIN_SENTENCE:
            weights = replace(draft, threshold=threshold, keep_margin=margin, min_sentence=floor)
            s, sentences = _score(examples, weights, vectors)
            # Shorter answers win ties: a reader wants the fact, not the paragraph around it.
            value = s.on_point + s.answer_cites_expected - 0.02 * sentences
            if value > best_score + 1e-9:
                best, best_score = (margin, floor), value
    return best


def _score(
    examples: Sequence[_Example], weights: AnswererWeights, vectors: SentenceVectors | None
) -> tuple[Summary, float]:
    """The summary of the answers these weights give, and their mean number of sentences (refusals aside)."""
    answerer = ExtractiveAnswerer(vectors, weights=weights)
    scores = []
    for example in examples:
        answer = answerer.answer(example.question.question, example.passages)
        scores.append(score_answer(example.question, example.passages, answer, seconds=0.0))
    answered = [s.answer for s in scores if not s.refused]
    # One marker per quoted sentence.
    sentences = sum(len(MARKER.findall(text)) for text in answered) / max(1, len(answered))
    return summarize(scores, top_k=len(examples[0].passages) if examples else 3), sentences


def _gate_auc(examples: Sequence[_Example], weights: AnswererWeights) -> float:
    """How well "do the passages answer?" ranks answerable above unanswerable questions, whatever the threshold.

    The chance that a random answerable question gets a higher probability than a random unanswerable one.
    """
    p = _probabilities(examples, weights)
    answerable = np.array([bool(e.question.expected_sources) for e in examples])
    pos, neg = p[answerable], p[~answerable]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def _report(
    label: str, examples: Sequence[_Example], weights: AnswererWeights, vectors: SentenceVectors
) -> dict[str, float]:
    s, _ = _score(examples, weights, vectors)
    row = {
        "questions": s.questions,
        "cites_expected": round(s.answer_cites_expected, 3),
        "on_point": round(s.on_point, 3),
        "refusal_on_unanswerable": round(s.refusal_on_unanswerable, 3),
        "false_refusals": round(s.false_refusals, 3),
        "sentences_cited": round(s.sentences_cited, 3),
        "gate_auc": round(_gate_auc(examples, weights), 3),
    }
    print(f"{label:<34}" + "  ".join(f"{k}={v}" for k, v in row.items()))
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS_FILE.name}")
    args = parser.parse_args(argv)
    embedder = MiniLMEmbedder()
    vectors = SentenceVectors(embedder)
    sets = dev_sets()
    print(f"collecting features on {len(sets)} development set(s)", file=sys.stderr)
    retrieved = _retrieve(sets, embedder, args.top_k)
    examples = _measure(retrieved, vectors)
    names = [d.name for d in sets]
    print("\nleave one set out (fit on the others, score the one left out):")
    for name in names:
        train = [e for e in examples if e.set_name != name]
        test = [e for e in examples if e.set_name == name]
        if train and test:
            _report(f"  held out: {name}", test, fit(train, vectors), vectors)
    weights = fit(examples, vectors)
    print("\nfitted on all sets (in-sample):")
    for name in names:
        _report(f"  {name}", [e for e in examples if e.set_name == name], weights, vectors)
    lexical = fit(_measure(retrieved, None), vectors, lexical=True)
    print(f"\nthreshold {weights.threshold}, keep margin {weights.keep_margin}, min sentence {weights.min_sentence}")
    if args.write:
        data = {
            "fitted_by": "python -m evaluation.calibrate --write",
            "sets": {d.name: str(d.questions.relative_to(Path(__file__).resolve().parents[1])) for d in sets},
            "top_k": args.top_k,
            "variants": {"semantic": weights.to_json(), "lexical": lexical.to_json()},
        }
        WEIGHTS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
