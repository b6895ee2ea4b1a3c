"""XLSX (python-calamine) and CSV: each sheet a Markdown table under its header row, titled "Workbook > Sheet".

The first non-empty row of a sheet is its header. A sheet is cut between rows into chunks of about the
Markdown chunker's size, each a Markdown table under the header, so a chunk read alone still says what
its columns are. The rows are packed here rather than parsed back by markdown-it, which spends about
0.4 ms on a table row (8 s on a 20,000-row sheet). Sheets have no pages: chunks have `page` None.
calamine (Rust) reads a 20,000-row workbook in a tenth of the time openpyxl takes (see bench/RESULTS-ingest.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from io import BytesIO

from ingestion.chunking import TARGET_CHARS, TITLE_SEPARATOR, Chunk, ParsedDocument, title_from_name
from ingestion.formats.pages import table

__all__ = ["parse"]

_DEFAULT_SHEET = re.compile(r"^(sheet|feuil|tabelle|hoja)\s*\d*$", re.IGNORECASE)  # names nobody chose


def parse(raw: bytes, *, name: str, kind: str) -> ParsedDocument:
    sheets: list[tuple[str, Sequence[Sequence[object]]]]
    if kind == "csv":
        sheets = [("", _csv_rows(raw))]
    else:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_filelike(BytesIO(raw))
        names = list(workbook.sheet_names)
        sheets = [(sheet, workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=True)) for sheet in names]
    title = title_from_name(name)
    chunks: list[Chunk] = []
    for sheet, rows in sheets:
        cells = _text_rows(rows)
        if not cells:
            continue
        label = "" if _DEFAULT_SHEET.match(sheet) and len(sheets) == 1 else " ".join(sheet.split())
        path = TITLE_SEPARATOR.join(filter(None, [title, label]))
        for piece in _pieces(cells[0], cells[1:]):
            chunks.append(Chunk(ordinal=len(chunks), title=path, content=piece))
    return ParsedDocument(title=title, chunks=chunks)


def _pieces(header: list[str], rows: list[list[str]], target_chars: int = TARGET_CHARS) -> Iterator[str]:
    """The table cut between rows into pieces of about `target_chars`, each under the header."""
    head = table(header, [])
    piece: list[list[str]] = []
    size = len(head)
    for row in rows:
        length = sum(len(cell) + 3 for cell in row) + 2
        if piece and size + length > target_chars:
            yield table(header, piece)
            piece, size = [], len(head)
        piece.append(row)
        size += length
    if piece or not rows:
        yield table(header, piece)


def _csv_rows(raw: bytes) -> list[list[str]]:
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:  # one column, or too irregular to tell: the commas of the standard
        dialect = csv.excel
    return list(csv.reader(text.splitlines(), dialect))


def _text_rows(rows: Iterable[Sequence[object]]) -> list[list[str]]:
    """Rows as text cells, empty rows dropped and every row as wide as the widest (trailing blanks cut)."""
    cells = [[_cell(value) for value in row] for row in rows]
    cells = [row for row in cells if any(row)]
    width = max((max(i for i, cell in enumerate(row) if cell) + 1 for row in cells), default=0)
    return [(row + [""] * width)[:width] for row in cells]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # calamine reads every number as a float: 12.0 was typed 12
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())
