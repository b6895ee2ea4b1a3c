"""PPTX (python-pptx): one chunk group per slide, titled "Deck > Slide title", `page` = the slide number.

A slide's shapes are read top to bottom, left to right (their order in the file is the order they were
added); grouped shapes are opened; the bullets of body placeholders become list items, tables Markdown
tables, and the speaker notes follow the slide's own text, since they often say what the bullets mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from typing import Any

from ingestion.chunking import ParsedDocument, title_from_name
from ingestion.formats.pages import chunk_pages, escape, heading, table

__all__ = ["parse"]


def parse(raw: bytes, *, name: str, kind: str = "pptx") -> ParsedDocument:
    from pptx import Presentation

    deck = Presentation(BytesIO(raw))
    slides: list[tuple[int, str, list[str]]] = []
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        slide_title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        skip = title_shape.shape_id if title_shape is not None else None
        body = [block for shape in _reading_order(slide.shapes) if shape.shape_id != skip for block in _blocks(shape)]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                body.append(escape("Notes: " + notes.text))
        slides.append((number, slide_title, body))
    title = (deck.core_properties.title or "").strip()
    title = title or next((t for _, t, _ in slides if t), "") or title_from_name(name)
    pages = [
        (number, "\n\n".join([heading(2, slide_title or f"Slide {number}"), *body]))
        for number, slide_title, body in slides
    ]
    return chunk_pages(pages, title=title, name=name)


def _reading_order(shapes: Any) -> Iterator[Any]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _reading_order(shape.shapes)
        else:
            yield shape


def _blocks(shape: Any) -> list[str]:
    if getattr(shape, "has_table", False):
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return [table(rows[0], rows[1:])] if rows else []
    if not getattr(shape, "has_text_frame", False):
        return []
    from pptx.enum.shapes import PP_PLACEHOLDER

    kind = shape.placeholder_format.type if shape.is_placeholder else None
    if kind in (PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.DATE):
        return []  # slide furniture, the same on every slide
    # Body placeholders hold bullets; a text box, title or subtitle holds prose.
    bullets = kind in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)
    blocks = []
    for paragraph in shape.text_frame.paragraphs:
        text = " ".join(paragraph.text.split())
        if text:
            blocks.append(f"- {text}" if bullets else escape(text))
    # Consecutive items form one list; prose paragraphs stay apart.
    return ["\n".join(blocks)] if bullets and blocks else blocks
