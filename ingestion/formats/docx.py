"""DOCX (python-docx): paragraphs and tables in document order, Word's heading styles as the heading path.

A Word document has no fixed pages (they depend on the renderer), so its chunks have `page` None.
The Title style is the top heading and each `Heading N` sits below it; lists become Markdown items and a
table becomes a Markdown table under its first row, so every format chunks the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    resolve = _styles(document)

    def style(paragraph: Any) -> tuple[int | None, bool]:
        return resolve(paragraph._p.style)

    has_title = any(not isinstance(item, Table) and style(item)[0] == 0 for item in paragraphs)
    title = (document.core_properties.title or "").strip()
    blocks: list[str] = []
    for item in paragraphs:
        if isinstance(item, Table):
            blocks.append(_table(item))
            continue
        text = item.text.strip()
        if not text:
            continue
        level, list_style = style(item)
        if level is not None:
            # Title is the top heading; with one, Heading 1 sits below it.
            title = title or (text if level == 0 or (level == 1 and not has_title) else "")
            blocks.append(heading(level + 1 if has_title else max(level, 1), text))
        elif list_style or _numbered(item):
            blocks.append("- " + " ".join(text.split()))
        else:
            blocks.append(escape(text))
    return chunk_pages([(None, "\n\n".join(blocks))], title=title or title_from_name(name), name=name)


def _styles(document: Any) -> Callable[[str | None], tuple[int | None, bool]]:
    """Paragraph style id (None: the default style) -> (heading level: 0 for Title, N for `Heading N` or a style
    based on one, None for body text; whether it is a list style).

    Looked up by id with one XPath each and cached: python-docx's `paragraph.style` scans every style per call
    (a third of the parse time of a short document).
    """
    element = document.styles.element
    cache: dict[str | None, tuple[int | None, bool]] = {}

    def style(style_id: str | None) -> Any:
        if style_id is None:
            found = element.xpath('w:style[@w:type="paragraph" and @w:default="1"]')
        elif "'" in style_id:
            return None
        else:
            found = element.xpath(f"w:style[@w:styleId='{style_id}']")
        return found[0] if found else None

    def resolve(style_id: str | None) -> tuple[int | None, bool]:
        if style_id in cache:
            return cache[style_id]
        current = style(style_id)
        is_list = current is not None and (current.name_val or "").startswith("List")
        level = None
        for _ in range(10):  # the based-on chain, bounded against a loop
            if current is None:
                break
            name = current.name_val or ""
            match = _HEADING_STYLE.match(name)
            if name == "Title" or match:
                level = int(match.group(1)) if match else 0
                break
            current = style(current.basedOn_val) if current.basedOn_val else None
        cache[style_id] = (level, is_list)
        return cache[style_id]

    return resolve


def _numbered(paragraph: Any) -> bool:
    properties = paragraph._p.pPr  # numbering has no public accessor in python-docx
    return properties is not None and properties.numPr is not None


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
