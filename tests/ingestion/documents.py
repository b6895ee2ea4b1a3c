"""Writers of real PDF, DOCX, PPTX, XLSX and CSV files, for the format tests, bench/ingest.py and the
water-utility evaluation set (the files are made by the libraries Word-like tools use, not mocked).

A PDF is laid out the way a typesetter does it, so the parser meets what real ones have: paragraphs
wrapped to the measure with long words hyphenated at the line end, a running header and a page
footer on every page, headings in larger type, and pages that break where the text runs out.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

__all__ = ["Block", "wrap", "write_csv", "write_docx", "write_pdf", "write_pptx", "write_xlsx"]

# ("title" | "h1" | "h2" | "p" | "bullet", text), ("table", rows), or ("page", "") to start a new page.
Block = tuple[Literal["title", "h1", "h2", "p", "bullet", "page"], str] | tuple[Literal["table"], list[list[str]]]

_PDF_SIZES = {"title": 20.0, "h1": 15.0, "h2": 12.5, "p": 10.5, "bullet": 10.5}


def wrap(text: str, width: float, measure: object = len, *, hyphenate: bool = True) -> list[str]:
    """Lines of at most `width` (as `measure` counts it); a long word that does not fit is hyphenated."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:  # type: ignore[operator]
            line = candidate
            continue
        if hyphenate and word.isalpha() and len(word) >= 7:
            for cut in range(len(word) - 3, 2, -1):
                head = f"{line} {word[:cut]}-" if line else f"{word[:cut]}-"
                if measure(head) <= width:  # type: ignore[operator]
                    lines.append(head)
                    line = word[cut:]
                    break
            else:
                lines.append(line)
                line = word
            continue
        if line:
            lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def write_pdf(
    path: Path,
    blocks: Sequence[Block],
    *,
    header: str | None = None,
    footer: str | None = "Page {page} of {pages}",
    title: str | None = None,
    password: str | None = None,
) -> list[str]:
    """Write `blocks` as an A4 PDF; returns each page's body text as written (its lines joined, hyphenated words
    whole again), so a caller can tell on which page a phrase landed."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    width, height = A4
    left, right, top, bottom = 72.0, width - 72.0, height - 80.0, 70.0
    pages: list[list[tuple[str, float, float, float, str]]] = [[]]  # per page: (font, size, x, y, text) lines
    texts: list[list[str]] = [[]]
    y = top

    def new_page() -> None:
        nonlocal y
        pages.append([])
        texts.append([])
        y = top

    for kind, content in blocks:
        if kind == "page":
            new_page()
            continue
        if kind == "table":
            rows = content
            assert isinstance(rows, list)
            column = (right - left) / max(len(row) for row in rows)
            for r, row in enumerate(rows):
                if y - 14 < bottom:
                    new_page()
                font = "Helvetica-Bold" if r == 0 else "Helvetica"
                for c, cell in enumerate(row):
                    pages[-1].append((font, 9.5, left + c * column, y, cell))
                texts[-1].append(" | ".join(row) + "\n")
                y -= 14
            y -= 8
            continue
        assert isinstance(content, str)
        size = _PDF_SIZES[kind]
        font = "Helvetica-Bold" if kind in ("title", "h1", "h2") else "Helvetica"
        indent = 14.0 if kind == "bullet" else 0.0
        text = content
        lines = wrap(
            text,
            right - left - indent,
            functools.partial(stringWidth, fontName=font, fontSize=size),
            hyphenate=kind in ("p", "bullet"),
        )
        if kind in ("title", "h1", "h2") and y - size * 3 < bottom:  # no heading alone at a page foot
            new_page()
        y -= size * 0.6 if kind in ("h1", "h2") and pages[-1] else 0
        for n, line in enumerate(lines):
            if y - size < bottom:
                new_page()
            prefix = "• " if kind == "bullet" and n == 0 else ""
            x = left + (0 if prefix else indent)
            pages[-1].append((font, size, x, y, prefix + line))
            hyphenated = line.endswith("-") and line[-2:-1].isalpha()  # `wrap` cut a word here
            texts[-1].append(line[:-1] if hyphenated else line + " ")
            y -= size * 1.35
        texts[-1][-1] += "\n"
        y -= size * 0.7

    document = canvas.Canvas(str(path), pagesize=A4, encrypt=password, invariant=True)  # same bytes each time
    if title:
        document.setTitle(title)
    for number, lines in enumerate(pages, start=1):
        if header:
            document.setFont("Helvetica", 8.5)
            document.drawString(left, height - 40, header)
        for font, size, x, y_at, line in lines:
            document.setFont(font, size)
            document.drawString(x, y_at, line)
        if footer:
            document.setFont("Helvetica", 8.5)
            document.drawCentredString(width / 2, 36, footer.format(page=number, pages=len(pages)))
        document.showPage()
    document.save()
    return ["".join(page) for page in texts]


def write_docx(path: Path, blocks: Sequence[Block], *, title: str | None = None) -> None:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, content in blocks:
        if kind == "table":
            rows = content
            assert isinstance(rows, list)
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif kind == "title":
            document.add_heading(str(content), level=0)
        elif kind in ("h1", "h2"):
            document.add_heading(str(content), level=int(kind[1]))
        elif kind == "bullet":
            document.add_paragraph(str(content), style="List Bullet")
        elif kind == "p":
            document.add_paragraph(str(content))
        elif kind == "page":
            document.add_page_break()
    document.save(str(path))


# A slide: its title, its bullets, and its speaker notes ("" for none); or a table slide with rows.
Slide = tuple[str, Sequence[str], str]


def write_pptx(
    path: Path, slides: Sequence[Slide], *, subtitle: str = "", tables: dict[int, list[list[str]]] | None = None
) -> None:
    """The first slide is a title slide (its bullets are ignored, `subtitle` under the title); `tables` puts
    a table on the slide of that index."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for n, (title, bullets, notes) in enumerate(slides):
        if n == 0:
            slide = deck.slides.add_slide(deck.slide_layouts[0])
            slide.shapes.title.text = title
            slide.placeholders[1].text = subtitle
        elif tables and n in tables:
            slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
            slide.shapes.title.text = title
            rows = tables[n]
            shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(0.5), Inches(1.6), Inches(9), Inches(3))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    shape.table.cell(r, c).text = cell
        else:
            slide = deck.slides.add_slide(deck.slide_layouts[1])
            slide.shapes.title.text = title
            frame = slide.placeholders[1].text_frame
            for i, bullet in enumerate(bullets):
                paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                paragraph.text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(str(path))


def write_xlsx(path: Path, sheets: Mapping[str, Sequence[Sequence[object]]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(str(path))


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=delimiter).writerows(rows)
