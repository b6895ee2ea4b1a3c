"""The water-utility evaluation set: its questions load, and each expected page holds the expected answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.runner import load_questions
from ingestion.chunking import Chunk
from ingestion.sources import parse_file
from tests.processes import ROOT

SET = ROOT / "evaluation" / "sets" / "water-utility"


@pytest.fixture(scope="module")
def chunks() -> dict[str, list[Chunk]]:
    return {
        f"docs/{path.name}": parse_file(path, path.read_bytes()).chunks for path in sorted((SET / "docs").iterdir())
    }


def test_the_questions_load_and_mix_answerable_with_unanswerable() -> None:
    questions = load_questions(SET / "questions.jsonl")
    assert 30 <= len(questions) <= 40
    assert 5 <= sum(not q.expected_sources for q in questions) <= 10
    formats = {Path(s).suffix for q in questions for s in q.expected_sources}
    assert formats == {".pdf", ".docx", ".pptx", ".xlsx", ".csv"}


def test_each_answer_is_on_its_expected_page_of_its_expected_source(chunks: dict[str, list[Chunk]]) -> None:
    for line in (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item["expected_sources"]:
            assert "expected_page" not in item
            continue
        (source,) = item["expected_sources"]
        page = item["expected_page"]
        assert (page is None) == (Path(source).suffix in (".docx", ".xlsx", ".csv")), item
        on_page = [" ".join(c.content.split()) for c in chunks[source] if c.page == page]
        assert any(term in text for text in on_page for term in item["expected_terms"]), item["question"]


def test_the_pdfs_are_multi_page_and_lose_their_running_headers_and_footers(chunks: dict[str, list[Chunk]]) -> None:
    for source in ("docs/annual-report-2025.pdf", "docs/drought-plan.pdf"):
        pages = {chunk.page for chunk in chunks[source]}
        assert len(pages) >= 5, source
        text = "\n".join(chunk.content for chunk in chunks[source])
        assert "Kestrel Valley Water —" not in text and "Page 2 of" not in text
        assert "\ufffe" not in text
