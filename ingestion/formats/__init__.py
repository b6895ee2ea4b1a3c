"""Documents that are not plain text: PDF, DOCX, PPTX, XLSX and CSV, each into the chunks of `ingestion.chunking`.

One module per format, each a `parse(raw, name)` that returns a `ParsedDocument`:
- `pdf`: PDFium (pypdfium2) text, page by page, with running headers, footers and page numbers removed,
  hyphenated line ends rejoined and the lines of a paragraph joined; larger type becomes headings.
- `docx`: python-docx paragraphs and tables in order; Heading styles give the heading path.
- `pptx`: python-pptx, one chunk group per slide, titled by the slide's title, `page` = slide number.
- `sheets`: XLSX (python-calamine) and CSV, rows as Markdown table rows under their header, which every
  chunk repeats.
`pages` holds what they share: text written as Markdown and chunked by the Markdown chunker, page by page.

The parser libraries are imported when a file of their kind is read, so the app imports none of them (they are in
the laptop's install, not the deployment's) and `python-pptx`, an extra, is needed only for decks.
A file that cannot be read raises `UnreadableDocument` with a reason fit for one line of `pipeline index` output.
"""

from __future__ import annotations

import importlib
import zipfile
from io import BytesIO
from typing import Literal

from ingestion.chunking import ParsedDocument

__all__ = ["BinaryKind", "UnreadableDocument", "parse_document"]

BinaryKind = Literal["pdf", "docx", "pptx", "xlsx", "csv"]

_MODULES: dict[BinaryKind, str] = {"pdf": "pdf", "docx": "docx", "pptx": "pptx", "xlsx": "sheets", "csv": "sheets"}
# What a pip install of each format's parser is called, for the hint when it is missing.
_PACKAGES = {"pdf": "pypdfium2", "docx": "python-docx", "pptx": "python-pptx", "xlsx": "python-calamine"}
_IMPORTS = {"pdf": "pypdfium2", "docx": "docx", "pptx": "pptx", "xlsx": "python_calamine", "csv": "csv"}
# Office files are zip archives: refuse one whose members would inflate past this before a parser inflates them,
# or that inflates past 64 MiB at a ratio no document has (XML compresses 10-100x; a bomb, by a thousand).
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
_SUSPECT_BYTES = 64 * 1024 * 1024
_MAX_RATIO = 200
# Office wraps a password-protected file, and wrote its pre-2007 formats, in an OLE compound file.
_OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")


class UnreadableDocument(Exception):
    """A file whose content cannot be read as its kind; the message is the reason, said for a person."""


def parse_document(raw: bytes, *, kind: BinaryKind, name: str) -> ParsedDocument:
    """The chunks of a file of `kind`; raises `UnreadableDocument` when it cannot be read."""
    if kind in ("docx", "pptx", "xlsx"):
        _check_archive(raw, kind)
    module = importlib.import_module(f"ingestion.formats.{_MODULES[kind]}")
    try:
        document: ParsedDocument = module.parse(raw, name=name, kind=kind)
    except UnreadableDocument:
        raise
    except ModuleNotFoundError as missing:  # the parser library is imported on first use
        if (missing.name or "").split(".")[0] != _IMPORTS[kind]:
            raise
        extra = " (pip install 'durable-ai-pipeline[pptx]')" if kind == "pptx" else ""
        raise UnreadableDocument(f"reading {kind.upper()} needs {_PACKAGES[kind]}{extra}") from missing
    except Exception as error:  # a parser of untrusted bytes raises anything; one file must not stop a run
        raise UnreadableDocument(f"not a readable {kind.upper()} file ({type(error).__name__}: {error})") from error
    return document


def _check_archive(raw: bytes, kind: str) -> None:
    if raw.startswith(_OLE_SIGNATURE):
        raise UnreadableDocument(
            f"encrypted (a password-protected {kind.upper()} is an OLE container, not a zip) or an old Office file"
        )
    try:
        members = zipfile.ZipFile(BytesIO(raw)).infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableDocument(f"not a {kind.upper()} file: corrupt or not a zip archive ({error})") from error
    inflated = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if inflated > MAX_UNZIPPED_BYTES or (inflated > _SUSPECT_BYTES and inflated / packed > _MAX_RATIO):
        raise UnreadableDocument(
            f"refused: its archive inflates to {inflated / 2**20:.0f} MiB from {packed / 2**20:.1f} MiB (zip bomb?)"
        )
