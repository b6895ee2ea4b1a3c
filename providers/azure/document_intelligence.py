"""Azure AI Document Intelligence as a document parser: scanned PDFs and images into page-exact chunks.

`pipeline index` uses it for PDFs and images when `AZURE_DOCUMENT_INTELLIGENCE_ENDPOINT` is set (the local
parsers stay the default, and read every other format). The `prebuilt-layout` model reads text with OCR
where a page has no text layer, and answers in Markdown (headings, lists, tables as HTML) with the running
headers, footers and page numbers it recognised marked as `<!-- PageHeader="…" -->` comments. Pages are
cut from the content by the offsets of each page's spans (asked for in Unicode code points, which is what a
Python string indexes), so a chunk knows its page even where the markers are missing; the comments, the
page furniture they mark and any HTML are dropped from the text before it is chunked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.chunking import html_to_markdown, title_from_name
from ingestion.formats.pages import chunk_pages, table
from providers.azure.credentials import Credential, LazyClient, key_or_token_credential
from providers.azure.errors import translating
from providers.base import Closing
from providers.errors import ProviderError

if TYPE_CHECKING:
    from azure.ai.documentintelligence import DocumentIntelligenceClient

    from config.settings import Settings
    from ingestion.chunking import ParsedDocument

__all__ = ["SUFFIXES", "DocumentIntelligenceParser", "layout_pages"]

# What the layout model reads (its input formats, less the Office ones the local parsers read page-exactly).
SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".heif"})
_MODEL = "prebuilt-layout"
_SERVICE = "azure ai document intelligence"
# Page furniture the service marks, and comments in general (PageBreak, PageNumber, figure notes).
_FURNITURE = re.compile(r"<!--\s*Page(?:Header|Footer|Number)=\"(?:[^\"\\]|\\.)*\"\s*-->")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HEADING = re.compile(r"^#{1,2}\s+(.+)$", re.MULTILINE)
_HTML_BLOCK = re.compile(r"<(table|figure)\b.*?</\1>", re.DOTALL | re.IGNORECASE)


class DocumentIntelligenceParser(Closing):
    """Reads a file with the layout model (API key, or Entra ID when none) and chunks it page by page.

    An `ingestion.ingest.DocumentParser`: `pipeline index` hands it the files it `handles`.
    """

    name = "document-intelligence"  # part of a file's content hash: switching parsers re-reads the file

    def __init__(
        self,
        endpoint: str,
        credential: Credential = None,
        *,
        api_version: str | None = None,
        polling_interval_s: float = 1.0,
        timeout: float = 120.0,
        retry_total: int = 3,
    ) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._polling_interval_s = polling_interval_s
        self._options: dict[str, Any] = {
            "retry_total": retry_total,
            "connection_timeout": min(timeout, 10.0),
            "read_timeout": timeout,
            **({"api_version": api_version} if api_version else {}),
        }
        self._client: LazyClient[DocumentIntelligenceClient] = LazyClient(self._build_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentIntelligenceParser:
        if not settings.azure_document_intelligence_endpoint:
            raise ProviderError.configuration("AZURE_DOCUMENT_INTELLIGENCE_ENDPOINT is not set")
        return cls(settings.azure_document_intelligence_endpoint, settings.azure_document_intelligence_key)

    def handles(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def parse(self, path: Path, raw: bytes) -> ParsedDocument:
        """The file's chunks, each with the page it is on; raises `ProviderError` when the service fails."""
        with translating(_SERVICE):
            poller = self._client.get().begin_analyze_document(
                _MODEL,
                body=BytesIO(raw),
                content_type="application/octet-stream",
                output_content_format="markdown",
                string_index_type="unicodeCodePoint",
                polling_interval=self._polling_interval_s,
            )
            result = poller.result()
        pages = layout_pages(result.as_dict())
        return chunk_pages(pages, title=_title(pages) or title_from_name(path.name), name=path.name)

    def close(self) -> None:
        self._client.close()

    def _build_client(self) -> DocumentIntelligenceClient:
        from azure.ai.documentintelligence import DocumentIntelligenceClient

        return DocumentIntelligenceClient(self._endpoint, key_or_token_credential(self._credential), **self._options)


def layout_pages(result: Mapping[str, Any]) -> list[tuple[int | None, str]]:
    """The pages of an analyze result (`analyzeResult` as JSON): each page's Markdown, furniture removed."""
    content = str(result.get("content") or "")
    pages: list[tuple[int | None, str]] = []
    for page in result.get("pages") or []:
        spans: Sequence[Mapping[str, int]] = page.get("spans") or []
        text = "".join(content[s["offset"] : s["offset"] + s["length"]] for s in spans)
        pages.append((int(page["pageNumber"]), _clean(text)))
    return pages


def _title(pages: Sequence[tuple[int | None, str]]) -> str | None:
    """The document's first heading (the layout model marks a title as `#`), if it has one."""
    for _, markdown in pages:
        match = _HEADING.search(markdown)
        if match:
            return match.group(1).strip()
    return None


def _clean(markdown: str) -> str:
    markdown = _FURNITURE.sub("", markdown)
    markdown = _COMMENT.sub("", markdown)
    # Tables and figures come as HTML blocks inside the Markdown: tables become Markdown tables (the chunker
    # repeats their header), figures their caption and text.
    return _HTML_BLOCK.sub(lambda m: "\n\n" + _html_block(m.group(0), m.group(1).lower()) + "\n\n", markdown).strip()


def _html_block(html: str, tag: str) -> str:
    if tag == "table":
        reader = _TableReader()
        reader.feed(html)
        reader.close()
        rows = [row for row in reader.rows if any(cell.strip() for cell in row)]
        if rows:
            width = max(len(row) for row in rows)
            rows = [row + [""] * (width - len(row)) for row in rows]
            return table(rows[0], rows[1:])
    return html_to_markdown(html)[0]


class _TableReader(HTMLParser):
    """The cells of an HTML table, row by row (a spanned cell is written once, where it starts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
