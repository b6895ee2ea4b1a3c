"""Split Markdown, plain text and HTML into heading-aware chunks, and text into sentences.

A chunk never straddles two sections: it carries its heading path ("Doc > Section > Sub") as its
title, so a passage read alone still says what it is about, and keyword search can match the
headings. Long sections are packed to about `target_chars`, cut only between sentences (or
list items, code blocks, tables), with about `overlap_chars` of trailing sentences repeated at
the start of the next chunk so a thought split across the cut is still found whole once.
HTML is first turned into Markdown-like text with the stdlib parser, keeping its headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

__all__ = [
    "CHUNKER_VERSION",
    "Chunk",
    "DocumentKind",
    "ParsedDocument",
    "chunk_document",
    "html_to_markdown",
    "kind_for",
    "quotable_units",
    "split_sentences",
]

# Part of every stored content hash: bump it and ingestion re-chunks files that did not change.
CHUNKER_VERSION = "2"

DocumentKind = Literal["markdown", "text", "html"]
_KINDS: dict[str, DocumentKind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
}
TITLE_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    title: str  # heading path, document title first
    content: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    chunks: list[Chunk]


def kind_for(path: str | Path) -> DocumentKind | None:
    """The document kind a file extension stands for, or None when it is not ingested."""
    return _KINDS.get(Path(path).suffix.lower())


# --- sentences ---------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "cf", "approx"})
# Titles abbreviate only when capitalised: "Dr. Smith", but "took 10 ms. Then" ends a sentence.
_TITLES = frozenset({"Mr", "Mrs", "Ms", "Dr", "St", "No", "Fig"})
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _split_prose(text: str) -> list[str]:
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        following = text[end : end + 1]
        # A sentence starts with a capital, digit, quote or code; "e.g. foo" does not end one.
        if not following or not (following.isupper() or following.isdigit() or following in "`\"'(["):
            continue
        last_word = text[start : match.start()].rsplit(" ", 1)[-1]
        if last_word.lower() in _ABBREVIATIONS or last_word in _TITLES:
            continue
        sentences.append(text[start : match.end()].strip())
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _blocks(text: str) -> Iterator[tuple[str, str]]:
    """Blocks of a section body as (kind, text): 'prose', 'item', 'code' or 'table'."""
    lines = text.splitlines()
    i = 0
    paragraph: list[str] = []

    def flush() -> Iterator[tuple[str, str]]:
        if paragraph:
            yield "prose", " ".join(line.strip() for line in paragraph)
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            yield from flush()
            fence = _FENCE.match(line).group(1)  # type: ignore[union-attr]
            block = [line]
            i += 1
            while i < len(lines):
                block.append(lines[i])
                i += 1
                if lines[i - 1].strip().startswith(fence):
                    break
            yield "code", "\n".join(block)
            continue
        stripped = line.strip()
        if stripped.startswith("|"):
            yield from flush()
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            yield "table", "\n".join(block)
            continue
        if not stripped or _HEADING.match(stripped):
            yield from flush()
        elif _LIST_MARKER.match(line):
            yield from flush()
            paragraph.append(line)
            # A list item runs until a blank line or the next item.
            while (
                i + 1 < len(lines)
                and lines[i + 1].strip()
                and not _LIST_MARKER.match(lines[i + 1])
                and not _FENCE.match(lines[i + 1])
                and not lines[i + 1].strip().startswith("|")
            ):
                i += 1
                paragraph.append(lines[i])
            item = " ".join(part.strip() for part in paragraph)
            paragraph.clear()
            yield "item", item
        else:
            paragraph.append(line)
        i += 1
    yield from flush()


def split_sentences(text: str) -> list[str]:
    """The prose sentences of a chunk, whitespace collapsed, list markers removed.

    Code blocks, tables and headings are left out: they are worth searching but not quoting.
    """
    sentences: list[str] = []
    for kind, block in _blocks(text):
        if kind == "prose":
            sentences.extend(_split_prose(block))
        elif kind == "item":
            sentences.extend(_split_prose(_LIST_MARKER.sub("", block, count=1)))
    return sentences


_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")


def quotable_units(text: str) -> list[str]:
    """What an extractive answer may quote from a chunk, in order: its sentences and its table rows.

    A table's data row is quoted as its cells joined by " | " (the header row, which only names the
    columns, and the separator row are left out): "Student annual pass | $71.00 per year". Code
    blocks are left out here; a chunk that is nothing but code is quoted whole by the answerer.
    """
    units: list[str] = []
    for kind, block in _blocks(text):
        if kind == "prose":
            units.extend(_split_prose(block))
        elif kind == "item":
            units.extend(_split_prose(_LIST_MARKER.sub("", block, count=1)))
        elif kind == "table":
            rows = block.splitlines()
            has_header = len(rows) > 1 and _TABLE_RULE.match(rows[1]) is not None
            for row in rows[2:] if has_header else rows:
                cells = [" ".join(cell.split()) for cell in row.strip().strip("|").split("|")]
                if any(cells) and not _TABLE_RULE.match(row):
                    units.append(" | ".join(cell for cell in cells if cell))
    return units


# --- Markdown sections ---------------------------------------------------------------------------

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")


def _clean_inline(text: str) -> str:
    # Links keep their words, bold loses its markers: quotes read as plain sentences.
    return _STRONG.sub(r"\2", _LINK.sub(r"\1", text))


def _sections(text: str) -> Iterator[tuple[list[tuple[int, str]], str]]:
    """(heading path as (level, text) pairs, body) for each section, in document order."""
    path: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence: str | None = None
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            in_fence = None if in_fence == marker else (in_fence or marker)
            body.append(line)
            continue
        if in_fence:
            body.append(line)
            continue
        heading = _HEADING.match(line)
        setext = _SETEXT.match(line) if body and body[-1].strip() and not _LIST_MARKER.match(body[-1]) else None
        if setext and not body[-1].lstrip().startswith("|"):
            level, title = (1 if setext.group(1).startswith("=") else 2), body.pop().strip()
        elif heading:
            level, title = len(heading.group(1)), heading.group(2)
        else:
            body.append(line)
            continue
        yield list(path), "\n".join(body)
        body = []
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, _clean_inline(title).strip()))
    yield list(path), "\n".join(body)


def _strip_front_matter(text: str) -> tuple[str, str | None]:
    if not text.startswith("---\n"):
        return text, None
    end = text.find("\n---", 4)
    if end < 0:
        return text, None
    title = None
    for line in text[4:end].splitlines():
        if line.lower().startswith("title:"):
            title = line.split(":", 1)[1].strip().strip("\"'") or None
    return text[end + 4 :].lstrip("-\n"), title


# --- packing -------------------------------------------------------------------------------------


def _units(body: str, target_chars: int) -> Iterator[tuple[str, str]]:
    """(separator before, text) units a chunk may be cut between."""
    first = True
    for kind, block in _blocks(body):
        pieces = _split_prose(block) if kind == "prose" else [block]
        for n, piece in enumerate(pieces):
            separator = "" if first else (" " if n else ("\n" if kind == "item" else "\n\n"))
            first = False
            # A single unit far over the target (a giant sentence or code block) is cut at spaces.
            while len(piece) > target_chars * 3 // 2:
                cut = piece.rfind(" ", 0, target_chars)
                cut = cut if cut > 0 else target_chars
                yield separator, piece[:cut]
                piece, separator = piece[cut:].lstrip(), " "
            yield separator, piece


def _pack(body: str, target_chars: int, overlap_chars: int) -> list[str]:
    chunks: list[str] = []
    current: list[tuple[str, str]] = []
    fresh = 0  # units in `current` not already emitted as overlap

    def render(units: list[tuple[str, str]]) -> str:
        return "".join((sep if i else "") + text for i, (sep, text) in enumerate(units)).strip()

    size = 0
    for separator, text in _units(body, target_chars):
        if current and fresh and size + len(separator) + len(text) > target_chars:
            chunks.append(render(current))
            tail: list[tuple[str, str]] = []
            tail_size = 0
            for unit in reversed(current[1:]):
                if tail_size + len(unit[1]) > overlap_chars * 3 // 2 or "\n" in unit[1]:
                    break
                tail.insert(0, (" ", unit[1]))
                tail_size += len(unit[1]) + 1
            current, size, fresh = tail, tail_size, 0
        current.append((separator, text))
        size += len(separator) + len(text)
        fresh += 1
    if current and fresh:
        chunks.append(render(current))
    return [chunk for chunk in chunks if chunk]


def chunk_document(
    text: str,
    *,
    kind: DocumentKind,
    name: str,
    target_chars: int = 800,
    overlap_chars: int = 100,
) -> ParsedDocument:
    """Chunks of one document; `name` (a file name) titles documents that have no heading of their own."""
    fallback = Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize() or name
    declared: str | None = None
    if kind == "html":
        text, declared = html_to_markdown(text)
    elif kind == "markdown":
        text, declared = _strip_front_matter(_COMMENT.sub("", text))
    sections = [([], text)] if kind == "text" else list(_sections(text))
    h1 = next((path[0][1] for path, _ in sections if path and path[0][0] == 1), None)
    title = declared or h1 or fallback

    chunks: list[Chunk] = []
    for path, body in sections:
        headings = [heading for _, heading in path]
        if not headings or headings[0] != title:
            headings.insert(0, title)
        section_title = TITLE_SEPARATOR.join(headings)
        cleaned = _clean_inline(body).strip()
        if not cleaned:
            continue
        for content in _pack(cleaned, target_chars, overlap_chars):
            chunks.append(Chunk(ordinal=len(chunks), title=section_title, content=content))
    return ParsedDocument(title=title, chunks=chunks)


# --- HTML ----------------------------------------------------------------------------------------

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "iframe"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "blockquote",
        "table",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "form",
        "hr",
        "tr",
        "br",
    }
)


class _MarkdownWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._skip = 0
        self._in_title = False
        self._pre = 0
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIPPED:
            self._skip += 1
        elif self._skip:
            return
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
            self._heading = []
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "pre":
            self._pre += 1
            self.parts.append("\n\n```\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self._heading is not None:
            self.parts.append(" ".join("".join(self._heading).split()) + "\n\n")
            self._heading = None
        elif tag == "pre" and self._pre:
            self._pre -= 1
            self.parts.append("\n```\n\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = ((self.title or "") + data).strip() or None
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._pre:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> tuple[str, str | None]:
    """Markdown-like text of an HTML page (headings kept as `#` lines) and its `<title>`."""
    writer = _MarkdownWriter()
    writer.feed(html)
    writer.close()
    text = "".join(writer.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(), writer.title
