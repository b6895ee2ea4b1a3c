"""The refusal contract that every answer generator keeps.

When the passages do not answer the question, the answer is exactly `NO_ANSWER` and cites
nothing. The local answerer returns it itself; a chat model is asked for it verbatim, and its
reply is recognised here so a refusal never reaches subscribers with citations attached.
"""

from __future__ import annotations

from providers.base import Answer

__all__ = ["NO_ANSWER", "is_refusal", "refusal"]

NO_ANSWER = "The indexed documents do not cover this question, so there is no answer to quote."


def refusal(model: str, *, input_tokens: int = 0, output_tokens: int = 0) -> Answer:
    """The fixed "not covered" answer: no citations, by contract."""
    return Answer(text=NO_ANSWER, quotes={}, model=model, input_tokens=input_tokens, output_tokens=output_tokens)


def is_refusal(text: str) -> bool:
    """Whether `text` is the fixed refusal (ignoring case, spacing and any citation markers)."""
    normalised = " ".join(text.replace("[", " [").split()).lower()
    return normalised.split(" [", 1)[0].rstrip(". ") == NO_ANSWER.lower().rstrip(".")
