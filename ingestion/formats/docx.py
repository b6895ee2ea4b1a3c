"""DOCX (python-docx): paragraphs and tables in document order, Word's heading styles as the heading path.

A Word document has no fixed pages (they depend on the renderer), so its chunks have `page` None.
The Title style is the top heading and each `Heading N` sits below it; lists become Markdown items and a
table becomes a Markdown table under its first row, so every format chunks the same way.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from ingestion.chunking import ParsedDocument, title_from_name
from ingestion.formats.pages import chunk_pages, escape, heading, table

__all__ = ["parse"]

_HEADING_STYLE = re.compile(r"^heading (\d)$", re.IGNORECASE)


def parse(raw: bytes, *, name: str, kind: str = "docx") -> ParsedDocument:
    import docx
    from docx.table import Table

    document = docx.Document(BytesIO(raw))
    paragraphs = list(document.iter_inner_content())
    has_title = any(not isinstance(item, Table) and _level(item) == 0 for item in paragraphs)
    title = (document.core_properties.title or "").strip()
    blocks: list[str] = []
    for item in paragraphs:
        if isinstance(item, Table):
            blocks.append(_table(item))
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _level(item)
        if level is not None:
            # Title is the top heading; with one, Heading 1 sits below it.
            title = title or (text if level == 0 or (level == 1 and not has_title) else "")
            blocks.append(heading(level + 1 if has_title else max(level, 1), text))
        elif _is_list_item(item):
            blocks.append("- " + " ".join(text.split()))
        else:
            blocks.append(escape(text))
    return chunk_pages([(None, "\n\n".join(blocks))], title=title or title_from_name(name), name=name)


def _level(paragraph: Any) -> int | None:
    """0 for the Title style, N for `Heading N` (or a style based on one), None for body text."""
    style = paragraph.style
    while style is not None:
        if style.name == "Title":
            return 0
        match = _HEADING_STYLE.match(style.name or "")
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _is_list_item(paragraph: Any) -> bool:
    properties = paragraph._p.pPr  # numbering has no public accessor in python-docx
    numbered = properties is not None and properties.numPr is not None
    return numbered or (paragraph.style.name or "").startswith("List")


def _table(item: Any) -> str:
    rows: list[list[str]] = []
    for row in item.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:  # a merged cell is listed once per grid column it spans
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(cell.text)
        if any(cell.strip() for cell in cells):
            rows.append(cells)
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    return table(rows[0], rows[1:])
