"""PDF (PDFium through pypdfium2): text page by page, cleaned of what the layout adds, `page` = physical page.

PDFium gives a page's text as lines in content order, and the box and font size of every character, so
each line is known with its position and type size. From those:
- running headers and footers go: lines near the top or bottom edge, no larger than body text, that
  recur (digits aside) on most pages, and page numbers ("7", "Page 7 of 12", "- vii -") anywhere there;
- hyphenated line ends are rejoined ("exam-" + "ple": "example"). PDFium marks the hyphens it takes for
  hyphenation; a line ending in a hyphen before a lowercase word is taken as one too. A compound the
  document also writes with its hyphen mid-line ("well-known") keeps it;
- the lines of a paragraph are joined; a paragraph ends at a wider line gap, an indented or bulleted
  line after a sentence end, or a short line;
- lines in type clearly larger than the body become headings (levels by size), giving the heading path.
A PDF with no text at all is a scan: it is refused with that reason (OCR is Document Intelligence's job).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingestion.chunking import ParsedDocument, title_from_name
from ingestion.formats import UnreadableDocument
from ingestion.formats.pages import chunk_pages, escape, heading

__all__ = ["parse"]

NO_TEXT_LAYER = "no text layer: scanned? use Document Intelligence (OCR) to extract its text"

_PLACEHOLDER_TITLES = frozenset({"untitled", "title", "document", "microsoft word"})
_EDGE = 0.12  # running headers and footers sit within this fraction of the page height from an edge
_EDGE_LINES = 3  # ... and among the first or last few lines there
_RECURS = 0.4  # ... on at least this share of the pages (two at least)
_HEADING_RATIO = 1.15  # type this much larger than the body's is a heading
_HYPHEN_MARKS = "\ufffe\u00ad\x02"  # PDFium's hyphenation mark, the soft hyphen, and an old PDFium marker
_PAGE_NUMBER = re.compile(r"^[-–—(\s]*(?:page|p\.)?\s*(?:\d+|[ivxlc]+)(?:\s*(?:of|/)\s*\d+)?[-–—)\s]*$", re.IGNORECASE)
_NUMBERED = re.compile(r"^#\s\S|\S\s#$")  # a key that starts or ends with a number apart
_BULLET = re.compile(r"^(?:[•▪◦●○■□–\-*·]\s+|\(?\d{1,2}[.)]\s+|\(?[a-z][.)]\s+)")
_SENTENCE_END = re.compile(r"[.!?:;\"”')]$")
_PUNCTUATION = ".,;:!?\"'()[]{}“”‘’"
_CONTROL = re.compile(r"[\x00-\x01\x03-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(slots=True)
class _Line:
    text: str
    left: float
    right: float
    top: float  # distance of its first character's baseline from the page top
    bottom: float  # of its last character (PDFium puts a rejoined hyphenated line on one "line")
    size: float

    @property
    def key(self) -> str:  # how a running header is recognised across pages: its words, digits aside
        return re.sub(r"\d+", "#", " ".join(self.text.lower().split()))


def parse(raw: bytes, *, name: str, kind: str = "pdf") -> ParsedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise UnreadableDocument("encrypted: it needs a password to open") from error
        raise UnreadableDocument(f"not a readable PDF ({error})") from error
    try:
        pages = [_lines(pdf[index]) for index in range(len(pdf))]
        declared = (pdf.get_metadata_dict().get("Title") or "").strip()
        declared = "" if declared.lower() in _PLACEHOLDER_TITLES else declared
    finally:
        pdf.close()
    if not any(lines for lines, _ in pages):
        raise UnreadableDocument(NO_TEXT_LAYER)
    body_size = _body_size(line for lines, _ in pages for line in lines)
    running = _running_keys(pages, body_size)
    body_lines = [[line for line in lines if not _is_furniture(line, height, running)] for lines, height in pages]
    levels = _heading_levels([line for lines in body_lines for line in lines], body_size)
    markdown = [_page_markdown(lines, levels) for lines in body_lines]
    vocabulary = _vocabulary("\n".join(text for page in markdown for _, text in page))

    path: list[tuple[int, str]] = []  # the heading path in force, carried from page to page
    parts: list[tuple[int | None, str]] = []
    for number, blocks in enumerate(markdown, start=1):
        context = [heading(level, text) for level, text in path]
        written = []
        for level, text in blocks:
            text = _rejoin(text, vocabulary)
            if level:
                path = [*(h for h in path if h[0] < level), (level, text)]
                written.append(heading(level, text))
            else:
                written.append(text)
        parts.append((number, "\n\n".join(context + written)))
    first = next((text for blocks in markdown for level, text in blocks if level == 1), "")
    title = declared or _rejoin(first, vocabulary) or title_from_name(name)
    return chunk_pages(parts, title=title, name=name)


def _lines(page: Any) -> tuple[list[_Line], float]:
    """A page's non-blank text lines in content order, and the page height."""
    import pypdfium2.raw as pdfium_c

    height = page.get_height()
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        lines = []
        for match in re.finditer(r"[^\r\n]+", text):  # text offsets are character indexes (generated breaks too)
            stripped = match.group().strip()
            if not stripped:
                continue
            first = match.start() + len(match.group()) - len(match.group().lstrip())
            last = match.start() + len(match.group().rstrip()) - 1
            left, first_bottom, _, _ = textpage.get_charbox(first)
            _, last_bottom, right, _ = textpage.get_charbox(last)
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
            lines.append(
                _Line(_CONTROL.sub("", stripped), left, right, height - first_bottom, height - last_bottom, size)
            )
    finally:
        textpage.close()
        page.close()
    return lines, height


def _size(line: _Line) -> float:
    return round(line.size * 2) / 2


def _body_size(lines: Iterable[_Line]) -> float:
    """The type size most of the text is set in."""
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[_size(line)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _running_keys(pages: list[tuple[list[_Line], float]], body_size: float) -> set[str]:
    """Keys of lines that recur near the top or bottom edge of most pages, in type no larger than the body's
    (a section heading that starts every page, "Section 2", "Section 3", is not a running header)."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for lines, height in pages:
        by_height = sorted(lines, key=lambda line: line.top)
        edge = [line for line in by_height[:_EDGE_LINES] if line.top < height * _EDGE]
        edge += [line for line in by_height[-_EDGE_LINES:] if line.top > height * (1 - _EDGE)]
        seen.update({line.key for line in edge if _size(line) <= body_size * 1.05})
    # A header that carries the page number beside a chapter's name ("Chapter 2: Setup 7") recurs only
    # through its chapter: two pages are enough for such a line; any other must recur on most pages.
    needed = max(2, _RECURS * len(pages))
    return {key for key, count in seen.items() if count >= needed or (count >= 2 and _NUMBERED.search(key))}


def _is_furniture(line: _Line, height: float, running: set[str]) -> bool:
    near_edge = line.top < height * _EDGE or line.top > height * (1 - _EDGE)
    return near_edge and (line.key in running or bool(_PAGE_NUMBER.match(line.text)))


def _heading_levels(lines: list[_Line], body: float) -> dict[float, int]:
    """Type sizes clearly above the body's, largest first, as heading levels 1-4."""
    larger = sorted({_size(line) for line in lines if body and _size(line) >= body * _HEADING_RATIO}, reverse=True)
    return {size: min(level, 4) for level, size in enumerate(larger, start=1)}


def _page_markdown(lines: list[_Line], levels: dict[float, int]) -> list[tuple[int, str]]:
    """A page as (heading level or 0, Markdown text) blocks: headings, then paragraphs with their lines joined."""
    pitches = [b.top - a.bottom for a, b in itertools.pairwise(lines) if 0 < b.top - a.bottom < 3 * a.size]
    pitch = statistics.median(pitches) if pitches else 0.0
    left = min((line.left for line in lines), default=0.0)
    right = max((line.right for line in lines), default=0.0)
    blocks: list[tuple[int, str]] = []
    paragraph: list[_Line] = []
    previous: _Line | None = None

    def flush() -> None:
        if paragraph:
            text = _join(paragraph)
            bullet = _BULLET.match(text)
            blocks.append((0, "- " + text[bullet.end() :] if bullet else escape(text)))
            paragraph.clear()

    for line in lines:
        level = levels.get(_size(line), 0) if len(line.text) <= 120 else 0
        if level:
            flush()
            if blocks and blocks[-1][0] == level and previous is not None and previous.size == line.size:
                blocks[-1] = (level, f"{blocks[-1][1]} {line.text}")  # a heading wrapped onto two lines
            else:
                blocks.append((level, line.text))
        else:
            if paragraph and _starts_paragraph(paragraph[-1], line, pitch, left, right):
                flush()
            paragraph.append(line)
        previous = line
    flush()
    return blocks


def _starts_paragraph(before: _Line, line: _Line, pitch: float, left: float, right: float) -> bool:
    gap = line.top - before.bottom
    if gap < 0 or (pitch and gap > pitch * 1.5):  # a wider gap, or a jump back up (a new column or box)
        return True
    if _BULLET.match(line.text):
        return True
    ended = bool(_SENTENCE_END.search(before.text))
    indented = line.left > left + line.size * 0.8
    short = before.right < right - (right - left) * 0.15
    return ended and (indented or short)


def _join(lines: list[_Line]) -> str:
    text = lines[0].text
    for line in lines[1:]:
        if text.endswith("-") and text[-2:-1].isalpha() and line.text[:1].islower():
            text = text[:-1] + "\ufffe" + line.text  # decided by `_rejoin` with the rest
        else:
            text = f"{text} {line.text}"
    return text


def _vocabulary(text: str) -> set[str]:
    """The hyphenated compounds a document writes mid-line, lowercased (split, not a regex over the text,
    which backtracks through every word)."""
    return {word.strip(_PUNCTUATION).lower() for word in text.split() if "-" in word}


_MARKED = re.compile(rf"(\w+)[{_HYPHEN_MARKS}](\w+)")


def _rejoin(text: str, compounds: set[str]) -> str:
    if not any(mark in text for mark in _HYPHEN_MARKS):
        return text

    def word(match: re.Match[str]) -> str:
        head, tail = match.groups()
        return f"{head}-{tail}" if f"{head}-{tail}".lower() in compounds else head + tail

    return _MARKED.sub(word, text).translate({ord(mark): None for mark in _HYPHEN_MARKS})
