"""The refusal contract that every answer generator keeps.

When the passages do not answer the question, the answer is exactly `NO_ANSWER` and cites
nothing. The local answerer returns it itself; a chat model is asked for it verbatim
(`providers.prompt`), and `is_refusal` recognises its reply, so a refusal never reaches
subscribers with citations attached.

What `is_refusal` counts as a refusal, and why:

- A *generic* "not covered" sentence: the fixed sentence, or an opener such as "I don't know",
  "The provided documents do not contain", "There is no information" followed only by words
  that name no subject ("… based on the available documents", "… to answer this question").
  Sentences are compared after normalising case, whitespace, quotes, markdown emphasis,
  contractions, punctuation and citation markers. Such a sentence can never be a claim taken
  from a document, so markers on it are stray and ignored.
- It is a refusal when one sentence is generic "not covered" and no other sentence carries a
  marker. A reply that also cites a passage for another sentence is a partial answer, and the
  citation rule (`providers.citations`) reads it.
- A "not covered" opener followed by a subject ("The documents do not mention a retry limit.")
  is a refusal only when the whole reply carries no marker: nothing cited means no answer to
  publish, and the reply says why, so it is the refusal it claims to be rather than a fault.

Anything else that cites nothing is not a refusal: the caller rejects it. Remove the markers
that point at no given passage (`citations.drop_unknown`) before asking.
"""

from __future__ import annotations

import re

from providers.base import Answer
from providers.citations import MARKER, sentences

__all__ = ["NO_ANSWER", "is_refusal", "refusal"]

NO_ANSWER = "The indexed documents do not cover this question, so there is no answer to quote."

_QUOTES = str.maketrans({"‘": "'", "’": "'", "`": "'"})
_CONTRACTIONS = (
    (re.compile(r"\bcan'?t\b|\bcan not\b"), "cannot"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\bi'm\b"), "i am"),
)
_NOT_WORD = re.compile(r"[\W_]+")
# How a "not covered" sentence opens, on normalised text (lowercase, contractions expanded).
_OPENER = re.compile(
    r"(?:i (?:do not|did not|cannot|could not|am unable to|am not able to) (?:know|answer|find|tell|say|determine|see)"
    r"|(?:\w+ ){0,2}(?:documents?|sources?|passages?|context|texts?)(?: \w+)? (?:do|does|did) not "
    r"(?:contain|cover|mention|include|provide|answer|address|say|state|specify|describe|explain|discuss|give|have)"
    r"|there (?:is|are|was) no (?:information|answer|mention|details?|relevant)"
    r"|nothing in (?:\w+ ){0,2}(?:documents?|sources?|passages?|context)"
    r"|(?:the |this |your )?(?:question|answer) (?:is|was) not "
    r"(?:covered|answered|addressed|found|mentioned|given|in))\b"
)
# Words that name no subject: a "not covered" sentence made only of these is generic.
_GENERIC_WORDS = """
    a about above according address am an and answer answered answers any anything are as asked available based
    be below but by can cannot cite context contain could covered data detail details do document documents does
    enough find for from given here however i in include indexed info information is it its me mention my no not
    nothing of on or passage passages provide provided question questions quote regarding relevant retrieved say
    so sorry source sources specific sufficient supplied tell text texts that the there therefore these this
    those to unable unfortunately what which with you your
"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


def refusal(model: str, *, input_tokens: int = 0, output_tokens: int = 0) -> Answer:
    """The fixed "not covered" answer: no citations, by contract; token usage is kept."""
    return Answer(text=NO_ANSWER, quotes={}, model=model, input_tokens=input_tokens, output_tokens=output_tokens)


def is_refusal(text: str) -> bool:
    """Whether a reply says the documents do not answer (the rule is in the module docstring)."""
    said = [(bool(MARKER.search(sentence)), _not_covered(sentence)) for sentence in sentences(text)]
    if any(kind == "generic" for _, kind in said) and all(kind == "generic" for cited, kind in said if cited):
        return True
    return not any(cited for cited, _ in said) and any(kind is not None for _, kind in said)


def _normalise(sentence: str) -> str:
    text = MARKER.sub(" ", sentence).translate(_QUOTES).lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


_FIXED = _normalise(NO_ANSWER)


def _not_covered(sentence: str) -> str | None:
    """ "generic" for a not-covered sentence that names no subject, "specific" for one that does, else None."""
    text = _normalise(sentence)
    if text == _FIXED:
        return "generic"
    words = text.split()
    # A preface of generic words may come first: "Sorry, but …", "Based on the documents, I don't know."
    for start in range(len(words)):
        if start and words[start - 1] not in _GENERIC:
            break
        opener = _OPENER.match(" ".join(words[start:]))
        if opener:
            tail = " ".join(words[start:])[opener.end() :].split()
            return "generic" if all(word in _GENERIC for word in tail) else "specific"
    return None
