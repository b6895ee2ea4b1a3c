"""What the format parsers share: their text written as Markdown, then chunked by the Markdown chunker.

Writing Markdown (headings as `#` lines, paragraphs one to a line, list items, tables) lets one chunker give
every format the same heading paths, sentence-aligned cuts and table handling. A paginated document is
chunked page by page, so no chunk straddles two pages; each page starts with the heading path in force
there (headings without a body make no chunk), so a chunk on page 7 is still titled by the section
that began on page 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ingestion.chunking import Chunk, ParsedDocument, chunk_document

__all__ = ["chunk_pages", "escape", "heading", "table"]

# A paragraph starting with one of these would be read as a heading, quote, HTML or code block.
_STRUCTURAL = ("#", ">", "<", "```", "~~~")


def escape(text: str) -> str:
    """`text` as one Markdown paragraph line: whitespace collapsed, a structural first character escaped."""
    line = " ".join(text.split())
    return "\\" + line if line.startswith(_STRUCTURAL) else line


def heading(level: int, text: str) -> str:
    return f"{'#' * max(1, min(level, 6))} {' '.join(text.split())}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GFM table; cells with their pipes escaped and line breaks spaced (a row stays one line)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(" ".join(cell.split()).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "| " + " | ".join("---" for _ in header) + " |", *(line(row) for row in rows)])


def chunk_pages(pages: Iterable[tuple[int | None, str]], *, title: str, name: str) -> ParsedDocument:
    """Chunks of a document given as (page number or None, Markdown) parts, ordinals consecutive across parts."""
    chunks: list[Chunk] = []
    for number, markdown in pages:
        for chunk in chunk_document(markdown, kind="markdown", name=name, title=title).chunks:
            chunks.append(Chunk(ordinal=len(chunks), title=chunk.title, content=chunk.content, page=number))
    return ParsedDocument(title=title, chunks=chunks)
