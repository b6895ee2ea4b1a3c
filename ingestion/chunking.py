"""Split Markdown, plain text and HTML into heading-aware chunks, and text into sentences.

A chunk never straddles two sections: it carries its heading path ("Doc > Section > Sub") as its
title, so a passage read alone still says what it is about, and keyword search can match the
headings. Long sections are packed to about `target_chars`, cut only between sentences (or
list items, code blocks, tables), with about `overlap_chars` of trailing sentences repeated at
the start of the next chunk so a thought split across the cut is still found whole once.
Markdown is read with markdown-it-py (CommonMark, GFM tables, YAML front matter): its block tokens
give the sections and the units a chunk is cut between, and a chunk keeps its Markdown as written.
HTML is first turned into Markdown-like text with the stdlib parser, keeping its headings.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal, NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

__all__ = [
    "CHUNKER_VERSION",
    "TARGET_CHARS",
    "TITLE_SEPARATOR",
    "Chunk",
    "DocumentKind",
    "FileKind",
    "ParsedDocument",
    "chunk_document",
    "html_to_markdown",
    "kind_for",
    "quotable_units",
    "split_sentences",
    "title_from_name",
]

# Part of every stored content hash: bump it and ingestion re-chunks files that did not change.
CHUNKER_VERSION = "3"

DocumentKind = Literal["markdown", "text", "html"]  # what `chunk_document` reads
# Every kind `pipeline index` reads; the others are parsed by `ingestion.formats` (binary ones by extension).
FileKind = DocumentKind | Literal["pdf", "docx", "pptx", "xlsx", "csv"]
_KINDS: dict[str, FileKind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
}
TITLE_SEPARATOR = " > "
TARGET_CHARS = 800  # the size a chunk is packed to


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    title: str  # heading path, document title first
    content: str
    # The 1-based physical page (slide, for a deck) of a paginated source; None for a document without pages.
    # A chunk never straddles two pages: parsers chunk page by page.
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    chunks: list[Chunk]


def kind_for(path: str | Path) -> FileKind | None:
    """The document kind a file extension stands for, or None when it is not ingested."""
    return _KINDS.get(Path(path).suffix.lower())


# --- sentences ---------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "cf", "approx"})
# Titles abbreviate only when capitalised: "Dr. Smith", but "took 10 ms. Then" ends a sentence.
_TITLES = frozenset({"Mr", "Mrs", "Ms", "Dr", "St", "No", "Fig"})


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


# --- Markdown blocks -----------------------------------------------------------------------------

# Block structure only: the inline rules (emphasis, links) would double the parse time, and a chunk
# keeps its Markdown as written.
_MARKDOWN = MarkdownIt("commonmark").enable("table").use(front_matter_plugin).disable(["inline", "text_join"])
_FRONT_MATTER_TITLE = re.compile(r"""^title:[ \t]*["']?(.*?)["']?[ \t]*$""", re.IGNORECASE | re.MULTILINE)
_LIST_MARKER = re.compile(r"^(?:[-*+]|\d{1,9}[.)])\s+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

_BlockKind = Literal["heading", "prose", "item", "code", "table", "title"]


class _Block(NamedTuple):
    kind: _BlockKind  # "title": a front matter title
    text: str  # the Markdown as written, lines joined; a heading's or title's words
    level: int = 0  # a heading's
    rows: tuple[str, ...] = ()  # a table's data rows, cells joined by " | "


def _clean_inline(text: str) -> str:
    # Links keep their words, bold loses its markers: quotes read as plain sentences.
    if "[" not in text and "**" not in text and "__" not in text:  # most blocks: skip the regexes
        return text
    return _STRONG.sub(r"\2", _LINK.sub(r"\1", text))


def _blocks(text: str) -> Iterator[_Block]:
    """The blocks of a Markdown text in order; lists and quotes are read as their paragraphs."""
    lines = text.splitlines()
    tokens = _MARKDOWN.parse(text)

    def source(token: Token) -> list[str]:  # the lines a block was written on
        start, end = token.map or (0, 0)
        return lines[start:end]

    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open" and token.level == 0:
            yield _Block("heading", _clean_inline(tokens[i + 1].content).strip(), level=int(token.tag[1]))
        elif kind in ("paragraph_open", "heading_open", "html_block"):
            written = _clean_inline(" ".join(line.strip() for line in source(token)))
            yield _Block("item" if tokens[i - 1].type == "list_item_open" else "prose", written)
        elif kind == "fence":
            yield _Block("code", "\n".join(source(token)))
        elif kind == "code_block":  # fenced, so it stays code once cut out of its indentation
            yield _Block("code", f"```\n{token.content}```")
        elif kind == "table_open":
            written = _clean_inline("\n".join(line.strip() for line in source(token)))
            yield _Block("table", written, rows=_table_rows(tokens, i))
        elif kind == "front_matter":
            title = _FRONT_MATTER_TITLE.search(token.content)
            if title and title.group(1):
                yield _Block("title", title.group(1))


def _table_rows(tokens: list[Token], start: int) -> tuple[str, ...]:
    """A table's body rows as their non-empty cells joined by " | " (the header only names columns)."""
    rows: list[str] = []
    in_body = False
    for token in itertools.islice(tokens, start, None):
        if token.type == "table_close":
            break
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tr_open":
            cells: list[str] = []
        elif token.type == "inline" and in_body:
            cells.append(" ".join(_clean_inline(token.content).split()))
        elif token.type == "tr_close" and in_body and any(cells):
            rows.append(" | ".join(cell for cell in cells if cell))
    return tuple(rows)


def _sentences(block: _Block) -> list[str]:
    if block.kind == "prose":
        return _split_prose(block.text)
    if block.kind == "item":
        return _split_prose(_LIST_MARKER.sub("", block.text, count=1))
    return []


def split_sentences(text: str) -> list[str]:
    """The prose sentences of a chunk, whitespace collapsed, list markers removed.

    Code blocks, tables and headings are left out: they are worth searching but not quoting.
    """
    return [sentence for block in _blocks(text) for sentence in _sentences(block)]


def quotable_units(text: str) -> list[str]:
    """What an extractive answer may quote from a chunk, in order: its sentences, list items and table rows.

    A list item is quoted whole ("`internal`: an unexpected exception. Retried in case it was a
    one-off."), since its second sentence alone says nothing of what it is about; a long one is cut
    into sentences.

    A table's data row is quoted as its cells joined by " | " (the header row, which only names the
    columns, and the separator row are left out): "Student annual pass | $71.00 per year". Code
    blocks are left out here; a chunk that is nothing but code is quoted whole by the answerer.
    """
    return [unit for block in _blocks(text) for unit in _quotable(block)]


_WHOLE_ITEM_CHARS = 400  # a list item up to this long is one quote: its later sentences lean on its first


def _quotable(block: _Block) -> list[str]:
    if block.kind == "table":
        return list(block.rows)
    if block.kind == "item":
        item = " ".join(_LIST_MARKER.sub("", block.text, count=1).split())
        if len(item) <= _WHOLE_ITEM_CHARS:
            return [item] if item else []
    return _sentences(block)


# --- packing -------------------------------------------------------------------------------------


def _table_pieces(table: str, target_chars: int) -> list[str]:
    """A table far over the target as tables of whole rows, each under the header row it needs."""
    if len(table) <= target_chars * 3 // 2:
        return [table]
    lines = table.split("\n")
    head = "\n".join(lines[:2])  # the header and delimiter rows
    pieces = [head]
    for row in lines[2:]:
        if pieces[-1] != head and len(pieces[-1]) + len(row) >= target_chars:
            pieces.append(head)
        pieces[-1] += "\n" + row
    return pieces


def _units(blocks: list[_Block], target_chars: int) -> Iterator[tuple[str, str]]:
    """(separator before, text) units a chunk may be cut between."""
    first = True
    previous = ""
    for block in blocks:
        if block.kind == "prose":
            pieces = _split_prose(block.text)
        else:
            pieces = _table_pieces(block.text, target_chars) if block.kind == "table" else [block.text]
        for n, piece in enumerate(pieces):
            # Sentences run on; items of one list stay on consecutive lines; a blank line parts the rest.
            if first:
                separator = ""
            elif n and block.kind == "prose":
                separator = " "
            else:
                separator = "\n" if block.kind == previous == "item" else "\n\n"
            first = False
            # A single unit far over the target (a giant sentence or code block) is cut at spaces.
            while len(piece) > target_chars * 3 // 2:
                cut = piece.rfind(" ", 0, target_chars)
                cut = cut if cut > 0 else target_chars
                yield separator, piece[:cut]
                piece, separator = piece[cut:].lstrip(), " "
            yield separator, piece
        previous = block.kind


def _pack(blocks: list[_Block], target_chars: int, overlap_chars: int) -> list[str]:
    chunks: list[str] = []
    current: list[tuple[str, str]] = []
    fresh = 0  # units in `current` not already emitted as overlap

    def render(units: list[tuple[str, str]]) -> str:
        return "".join((sep if i else "") + text for i, (sep, text) in enumerate(units)).strip()

    size = 0
    for separator, text in _units(blocks, target_chars):
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
    target_chars: int = TARGET_CHARS,
    overlap_chars: int = 100,
    title: str | None = None,
) -> ParsedDocument:
    """Chunks of one document; `name` (a file name) titles documents that have no heading of their own.

    `title`, when given, is the document title whatever the text's headings say (a parser that reads it from
    the file's properties, or chunks a document page by page, passes it).
    """
    fallback = title_from_name(name)
    declared: str | None = title
    if kind == "html":
        text, from_html = html_to_markdown(text)
        declared = declared or from_html
    blocks = list(_blocks(_COMMENT.sub("", text) if kind == "markdown" else text))
    # Sections as (heading path of (level, words) pairs, blocks); plain text has a single one.
    sections: list[tuple[list[tuple[int, str]], list[_Block]]] = [([], [])]
    for block in blocks:
        if block.kind == "title":
            declared = declared or block.text
        elif block.kind == "heading" and kind != "text":
            path = [heading for heading in sections[-1][0] if heading[0] < block.level]
            sections.append(([*path, (block.level, block.text)], []))
        else:
            sections[-1][1].append(_Block("prose", block.text) if block.kind == "heading" else block)
    h1 = next((path[0][1] for path, _ in sections if path and path[0][0] == 1), None)
    document_title = declared or h1 or fallback

    chunks: list[Chunk] = []
    for path, body in sections:
        headings = [heading for _, heading in path]
        if not headings or headings[0] != document_title:
            headings.insert(0, document_title)
        section_title = TITLE_SEPARATOR.join(headings)
        for content in _pack(body, target_chars, overlap_chars):
            chunks.append(Chunk(ordinal=len(chunks), title=section_title, content=content))
    return ParsedDocument(title=document_title, chunks=chunks)


def title_from_name(name: str) -> str:
    """The title of a document that names none: its file name, words spaced ("fares-and-fees.md": "Fares and fees")."""
    return Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize() or name


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
