"""Recognising a refusal in a model's reply: the fixed sentence, robustly, and plain "not covered" replies."""

from __future__ import annotations

import pytest

from providers.refusal import NO_ANSWER, is_refusal, refusal


@pytest.mark.parametrize(
    "reply",
    [
        NO_ANSWER,
        NO_ANSWER + " [1][3]",  # stray markers: the fixed sentence quotes no document
        "the indexed documents do not cover this question so there is no answer to quote. [2]",
        "**The indexed documents don’t cover this question, so there is no answer to quote**",
        f'  "{NO_ANSWER}"\n',
        NO_ANSWER + " The documents only describe queue settings.",  # chatter after it cites nothing
        "I don't know based on the available documents.",
        "I don't know [2].",
        "Based on the provided documents, I cannot answer this question.",
        "Sorry, but the provided documents do not contain information about this.",
        "There is no information about this in the documents.",
        # Names a subject, but the reply cites nothing, so there is no answer to publish: a refusal, said why.
        "The documents do not mention a retry limit.",
    ],
)
def test_refusals_are_recognised(reply: str) -> None:
    assert is_refusal(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "Failed steps are retried with exponential backoff [1].",
        "Failed steps are retried with exponential backoff.",  # uncited, but not a refusal: the caller rejects it
        # A partial answer: it says what is missing, then cites what is there.
        "The documents do not mention a limit. Failed steps are retried with backoff [1].",
        NO_ANSWER + " However, failed steps are retried with backoff [1].",
        # A cited sentence about a subject is a claim from that document, not a refusal.
        "The documents do not mention a retry limit [1].",
        "The indexed documents cover this question [1].",
        "",
    ],
)
def test_answers_are_not_refusals(reply: str) -> None:
    assert not is_refusal(reply)


def test_the_refusal_answer_cites_nothing_and_keeps_usage() -> None:
    answer = refusal("gpt-4o", input_tokens=300, output_tokens=20)
    assert (answer.text, answer.quotes, answer.model) == (NO_ANSWER, {}, "gpt-4o")
    assert (answer.input_tokens, answer.output_tokens) == (300, 20)
