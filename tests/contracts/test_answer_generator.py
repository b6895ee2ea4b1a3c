"""What every `AnswerGenerator` does (the local extractive answerer, a chat model through the `openai` SDK
against the recording server), whatever it decides to say.

A chat model's decision is the model's: the server replays a synthetic completion of the kind the test needs
(`Generator.says`), and the generator must turn it into the shape below. The extractive answerer decides
from the passages itself. Either way an answer cites only passages it was given, numbered in citation
order, each quote taken from its passage; a refusal is the fixed sentence with no citations.
"""

from __future__ import annotations

import re

import pytest

from contracts.errors import ErrorKind
from providers.base import Answer, Passage
from providers.errors import ProviderError
from providers.refusal import NO_ANSWER
from tests.contracts.conftest import Generator

# The passages the recorded chat completions were made for (tests/providers/azure/synthetic_completions.json).
from tests.providers.azure.test_chat_contract import PASSAGES, QUESTION

OFF_TOPIC = "Which grape varieties grow on the slopes of Mount Etna?"
_MARKER = re.compile(r"\[(\d+)\]")


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _assert_cites_only_what_it_was_given(answer: Answer, passages: list[Passage]) -> None:
    by_id = {p.id: p for p in passages}
    assert answer.quotes and set(answer.quotes) <= set(by_id)
    numbers = [int(n) for n in _MARKER.findall(answer.text)]
    assert list(dict.fromkeys(numbers)) == list(range(1, len(answer.quotes) + 1))  # [1] first, no gaps
    # No sentence stands without a marker: text between markers is at most the one sentence they close.
    for between in re.split(r"(?:\s*\[\d+\])+", answer.text):
        assert not re.search(r"[.!?]\s+\w", between.strip(" .")), f"an uncited sentence in {answer.text!r}"
    assert re.search(r"\]\.?$", answer.text), f"the last sentence of {answer.text!r} is uncited"
    for quote_id, quote in answer.quotes.items():
        parts = [_words(part) for part in quote.split("…")]  # a quote may join sentences, or be clipped
        assert all(part in _words(by_id[quote_id].content) for part in parts) and any(parts), quote_id
    assert answer.text != NO_ANSWER and answer.model


def test_an_answer_cites_only_given_passages_in_citation_order_quoting_each(any_generator: Generator) -> None:
    any_generator.says("azure_cited_answer")
    _assert_cites_only_what_it_was_given(any_generator.generator.answer(QUESTION, PASSAGES), PASSAGES)


def test_a_citation_of_a_passage_not_given_never_reaches_the_answer(any_generator: Generator) -> None:
    any_generator.says("azure_cites_unknown_passage")  # [7] of three passages
    _assert_cites_only_what_it_was_given(any_generator.generator.answer(QUESTION, PASSAGES), PASSAGES)


def test_what_the_passages_do_not_answer_is_the_fixed_refusal_with_no_citations(any_generator: Generator) -> None:
    any_generator.says("compatible_refusal_with_stray_citations")
    answer = any_generator.generator.answer(OFF_TOPIC, PASSAGES)
    assert (answer.text, answer.quotes) == (NO_ANSWER, {})
    assert answer.model


def test_with_no_passages_the_answer_is_the_refusal_without_asking_a_model(any_generator: Generator) -> None:
    answer = any_generator.generator.answer(QUESTION, [])
    assert (answer.text, answer.quotes) == (NO_ANSWER, {})
    assert any_generator.calls() == 0


@pytest.mark.parametrize("question", ["", "   \n"])
def test_an_empty_question_is_invalid_input(any_generator: Generator, question: str) -> None:
    with pytest.raises(ProviderError) as refused:
        any_generator.generator.answer(question, PASSAGES)
    assert refused.value.kind is ErrorKind.INVALID_INPUT
    assert any_generator.calls() == 0
