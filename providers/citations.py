"""Reading a chat model's reply: its `[n]` citation markers and its sentences.

`providers.prompt` numbers the passages 1..n and asks for a marker after every sentence. What
comes back is checked, not trusted:

- `drop_unknown` removes markers that point at no given passage (`[7]` when 3 were given);
- `keep_cited` removes the sentences left with no marker: a claim that nothing backs is not published;
- `cited_numbers` and `renumber_citations` turn the markers into citations in first-cited order;
- `best_quote` picks the passage sentence that a claim relies on.

Sentences end at `.`, `!` or `?` followed by a space (or at `。！？`), and at line breaks. A marker
written after the full stop ("backoff. [1]") belongs to the sentence before it, and a full stop
followed by a lowercase word ("e.g. a timer") does not end a sentence. `[Document 2]` and
`[1, 3]` are read as markers too, and written back as `[2]` and `[1][3]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = [
    "MARKER",
    "best_quote",
    "cited_numbers",
    "drop_unknown",
    "keep_cited",
    "renumber_citations",
    "sentences",
]

_MARKER = r"\[(?:(?:doc(?:ument)?|source)\s*)?(?P<numbers>\d{1,3}(?:\s*,\s*\d{1,3})*)\]"
MARKER = re.compile(_MARKER, re.IGNORECASE)
# Markers after a full stop, to be moved in front of it: "backoff. [1]" -> "backoff [1]."
_MARKERS_AFTER_STOP = re.compile(
    r"(?P<stop>[.!?。！？]+)(?P<markers>(?:[ \t]*" + _MARKER.replace("?P<numbers>", "") + r")+)", re.IGNORECASE
)
# A marker with the spaces before it, so removing it leaves no gap before the full stop.
_SPACED_MARKER = re.compile(r"(?P<space>[ \t]*)" + _MARKER, re.IGNORECASE)
_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'”’)])\s+|(?<=[。！？])\s*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_PASSAGE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)


def _numbers(match: re.Match[str]) -> list[int]:
    return [int(part) for part in match.group("numbers").split(",")]


def _rewrite(text: str, keep: Callable[[int], int | None]) -> str:
    """`text` with each marker's numbers mapped by `keep` (None drops a number; an empty marker goes)."""

    def replace(match: re.Match[str]) -> str:
        kept = [n for n in (keep(number) for number in _numbers(match)) if n is not None]
        if not kept:
            return ""
        return match.group("space") + "".join(f"[{n}]" for n in dict.fromkeys(kept))

    return _SPACED_MARKER.sub(replace, text)


def _split_line(line: str) -> tuple[str, list[str]]:
    """A line's list marker ("- ", "2. ") and its sentences, each keeping the markers that follow it."""
    line = _MARKERS_AFTER_STOP.sub(lambda m: " " + _joined(m.group("markers")) + m.group("stop"), line)
    item = _LIST_ITEM.match(line)
    prefix = item.group(0).lstrip() if item else ""
    body = line[item.end() :] if item else line
    pieces: list[str] = []
    for piece in _BREAK.split(body):
        piece = piece.strip()
        if not piece:
            continue
        if pieces and piece[0].islower():  # "e.g. a timer": an abbreviation, not a sentence end
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return prefix, pieces


def _joined(markers: str) -> str:
    return "".join(m.group(0) for m in MARKER.finditer(markers))


def sentences(text: str) -> list[str]:
    """The sentences of `text`, line by line, list markers removed."""
    return [sentence for line in text.splitlines() for sentence in _split_line(line)[1]]


def drop_unknown(text: str, count: int) -> str:
    """`text` without the marker numbers outside 1..`count`: they point at no passage that was given."""
    return _rewrite(text, lambda n: n if 1 <= n <= count else None)


def keep_cited(text: str) -> str:
    """`text` with only its sentences that carry a marker; lines and list items keep their layout."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if lines and lines[-1]:
                lines.append("")  # one blank line between paragraphs, as written
            continue
        prefix, parts = _split_line(line)
        cited = [part for part in parts if MARKER.search(part)]
        if cited:
            lines.append(prefix + " ".join(cited))
    return "\n".join(lines).strip()


def cited_numbers(text: str, count: int) -> list[int]:
    """Passage numbers (1-based) cited in `text`, in first-cited order; out-of-range ones left out."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        seen.extend(n for n in _numbers(match) if 1 <= n <= count and n not in seen)
    return seen


def renumber_citations(text: str, order: Sequence[int]) -> str:
    """`text` with each cited number replaced by its position in `order` ([3] -> [1] when 3 came first).

    Callers list citations in first-cited order, so the markers readers see match that list.
    Numbers not in `order` are removed rather than left pointing at nothing.
    """
    position = {number: index for index, number in enumerate(order, start=1)}
    return _rewrite(text, position.get)


def best_quote(passage_text: str, answer: str, number: int, *, max_chars: int = 240) -> str:
    """The passage sentence that best matches what the answer says where it cites `number`.

    Falls back to the passage's opening when nothing overlaps; never longer than `max_chars`.
    """
    claims = _claims_citing(answer, number) or [answer]
    claim_words = {w.lower() for claim in claims for w in _WORD.findall(claim) if len(w) > 2}
    best, best_score = "", 0.0
    for sentence in (s.strip() for s in _PASSAGE_SENTENCE.split(passage_text)):
        words = {w.lower() for w in _WORD.findall(sentence) if len(w) > 2}
        if not words:
            continue
        score = len(words & claim_words) / (len(words) ** 0.5)
        if score > best_score:
            best, best_score = sentence, score
    return _clip(best or " ".join(passage_text.split()), max_chars)


def _claims_citing(answer: str, number: int) -> list[str]:
    return [
        MARKER.sub(" ", sentence)
        for sentence in sentences(answer)
        if any(number in _numbers(m) for m in MARKER.finditer(sentence))
    ]


def _clip(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0] or text[: max_chars - 1]
    return cut + "…"
