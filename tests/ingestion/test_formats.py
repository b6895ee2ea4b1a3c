"""Each format's chunks, titles and pages, from real files the libraries wrote (tests/ingestion/documents.py)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ingestion.chunking import Chunk, ParsedDocument, kind_for, quotable_units
from ingestion.sources import parse_file
from tests.ingestion.documents import Block, write_csv, write_docx, write_pdf, write_pptx, write_xlsx

FLUSHING = (
    "Hydrant flushing removes sediment from the distribution mains and restores chlorine residuals "
    "throughout the network, which the laboratory confirms with samples taken downstream of every hydrant."
)
HEADER = "Harbour Water Authority — Annual Report 2024"


def _consecutive(document: ParsedDocument) -> None:
    assert [chunk.ordinal for chunk in document.chunks] == list(range(len(document.chunks)))


def _text(chunks: list[Chunk]) -> str:
    return "\n".join(chunk.content for chunk in chunks)


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Five pages: running header, "Page N of 5" footers, hyphenated line ends, a section across a page break."""
    blocks: list[Block] = [("title", "Harbour Water Annual Report"), ("h1", "Operations")]
    blocks += [("p", f"Marker alpha{n}. " + FLUSHING * 2) for n in range(6)]
    blocks += [("p", "Crews follow a well-known routine every spring. " + FLUSHING)]
    blocks += [("h2", "Pumping"), ("p", "The Kestrel Road pumping station lifts water to the hill reservoir. " * 30)]
    blocks += [("h1", "Finance"), ("p", "Tariff income rose by four percent over the year. " * 12)]
    blocks += [("page", ""), ("h1", "Outlook"), ("p", "The utility plans to replace twelve kilometres of mains.")]
    path = tmp_path_factory.mktemp("pdf") / "annual-report.pdf"
    return path, write_pdf(path, blocks, header=HEADER, title="Harbour Water Annual Report")


def test_pdf_chunks_carry_their_physical_page_and_never_straddle(report_pdf: tuple[Path, list[str]]) -> None:
    path, pages = report_pdf
    document = parse_file(path, path.read_bytes())
    _consecutive(document)
    assert len(pages) >= 3 and {chunk.page for chunk in document.chunks} == set(range(1, len(pages) + 1))
    for chunk in document.chunks:  # every marker sentence in a chunk was written on that chunk's page
        for marker in re.findall(r"alpha\d", chunk.content):
            assert marker in pages[chunk.page - 1], (marker, chunk.page)
    outlook = [chunk for chunk in document.chunks if "twelve kilometres" in chunk.content]
    assert [chunk.page for chunk in outlook] == [len(pages)]


def test_pdf_headings_become_the_heading_path_and_carry_over_a_page_break(report_pdf: tuple[Path, list[str]]) -> None:
    path, _ = report_pdf
    document = parse_file(path, path.read_bytes())
    assert document.title == "Harbour Water Annual Report"
    pumping = [chunk for chunk in document.chunks if "Kestrel Road" in chunk.content]
    assert len({chunk.page for chunk in pumping}) >= 2  # the section runs over a page break ...
    assert {chunk.title for chunk in pumping} == {"Harbour Water Annual Report > Operations > Pumping"}  # ... titled
    assert any(chunk.title.endswith("> Outlook") for chunk in document.chunks)


def test_pdf_running_headers_footers_and_page_numbers_are_removed(report_pdf: tuple[Path, list[str]]) -> None:
    path, _ = report_pdf
    text = _text(parse_file(path, path.read_bytes()).chunks)
    assert "Harbour Water Authority" not in text and "Annual Report 2024" not in text
    assert not re.search(r"Page \d+ of \d+", text)


def test_pdf_hyphenated_line_ends_are_rejoined_and_lines_of_a_paragraph_joined(
    report_pdf: tuple[Path, list[str]],
) -> None:
    path, _ = report_pdf
    document = parse_file(path, path.read_bytes())
    text = _text(document.chunks)
    import pypdfium2

    raw_text = "".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(path))
    assert raw_text.count("\ufffe") >= 3  # the fixture has words hyphenated at line ends, as PDFium marks them
    assert FLUSHING in text.replace("\n", " ")  # whole sentences: no broken words, no line breaks inside
    assert not re.search(r"\w-\s+[a-z]", text.replace("well-known", ""))  # no "distri- bution" left
    assert "\ufffe" not in text and "\u00ad" not in text
    # A sentence of the paragraph is quotable whole: its lines were joined.
    assert any(
        unit.startswith("Crews follow a well-known routine every spring.")
        for c in document.chunks
        for unit in quotable_units(c.content)
    )


def test_pdf_line_end_hyphen_before_a_lowercase_word_is_rejoined_unless_the_compound_is_written_elsewhere(
    tmp_path: Path,
) -> None:
    from ingestion.formats.pdf import _rejoin, _vocabulary

    vocabulary = _vocabulary("A well-known fact. Exam\ufffeple")
    assert _rejoin("the exam\ufffeple of a well\ufffeknown case", vocabulary) == "the example of a well-known case"


def test_a_one_page_pdf_keeps_its_text_but_not_its_page_number(tmp_path: Path) -> None:
    path = tmp_path / "notice.pdf"
    write_pdf(path, [("p", "Boil water notice lifted for the Eastside zone on 3 March.")], footer="7")
    (chunk,) = parse_file(path, path.read_bytes()).chunks
    assert chunk.content == "Boil water notice lifted for the Eastside zone on 3 March." and chunk.page == 1
    assert chunk.title == "Notice"


@pytest.fixture(scope="module")
def handbook_docx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blocks: list[Block] = [
        ("title", "Customer Handbook"),
        ("p", "This handbook explains how your water service works."),
        ("h1", "Billing"),
        ("p", "Bills are issued every two months."),
        ("h2", "Payment methods"),
        ("bullet", "Direct debit on the due date."),
        ("bullet", "Card payment at the service desk."),
        ("table", [["Plan", "Monthly charge"], ["Standard", "$18.40"], ["Concession", "$9.20"]]),
        ("h1", "Leaks"),
        ("p", "Report a leak in the street on the emergency line."),
    ]
    path = tmp_path_factory.mktemp("docx") / "handbook.docx"
    write_docx(path, blocks)
    return path


def test_docx_heading_styles_give_the_heading_path(handbook_docx: Path) -> None:
    document = parse_file(handbook_docx, handbook_docx.read_bytes())
    _consecutive(document)
    assert document.title == "Customer Handbook"
    titles = {chunk.content.split("\n")[0]: chunk.title for chunk in document.chunks}
    assert titles["This handbook explains how your water service works."] == "Customer Handbook"
    assert titles["Bills are issued every two months."] == "Customer Handbook > Billing"
    assert titles["- Direct debit on the due date."] == "Customer Handbook > Billing > Payment methods"
    assert titles["Report a leak in the street on the emergency line."] == "Customer Handbook > Leaks"
    assert all(chunk.page is None for chunk in document.chunks)


def test_docx_a_style_based_on_a_heading_style_is_a_heading_of_that_level(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_heading("Plant Manual", level=1)
    custom = document.styles.add_style("Procedure Step", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    document.add_paragraph("Backwashing the filters", style="Procedure Step")
    document.add_paragraph("Open valve V3 before starting the backwash pump.")
    path = tmp_path / "manual.docx"
    document.save(str(path))
    (chunk,) = parse_file(path, path.read_bytes()).chunks
    assert chunk.title == "Plant Manual > Backwashing the filters"
    assert chunk.content == "Open valve V3 before starting the backwash pump."


def test_docx_lists_and_tables_are_kept_as_items_and_rows(handbook_docx: Path) -> None:
    (payment,) = [
        c for c in parse_file(handbook_docx, handbook_docx.read_bytes()).chunks if "Direct debit" in c.content
    ]
    assert "| Plan | Monthly charge |" in payment.content
    assert quotable_units(payment.content) == [
        "Direct debit on the due date.",
        "Card payment at the service desk.",
        "Standard | $18.40",
        "Concession | $9.20",
    ]


def test_pptx_one_chunk_group_per_slide_titled_by_the_slide_with_its_number_as_page(tmp_path: Path) -> None:
    path = tmp_path / "board-briefing.pptx"
    slides = [
        ("Board Briefing Q3", [], ""),
        ("Capital works", ["Kestrel Road pump replaced", "Reservoir roof resealed"], "Both finished under budget."),
        ("Leakage", ["Night flow down 8 percent"], ""),
        ("Targets", [], ""),
    ]
    write_pptx(
        path, slides, subtitle="Harbour Water Authority", tables={3: [["Measure", "Target"], ["Leakage", "12%"]]}
    )
    document = parse_file(path, path.read_bytes())
    _consecutive(document)
    assert document.title == "Board Briefing Q3"
    by_page = {chunk.page: chunk for chunk in document.chunks}
    assert sorted(by_page) == [1, 2, 3, 4] and len(document.chunks) == 4
    assert by_page[1].title == "Board Briefing Q3" and by_page[1].content == "Harbour Water Authority"
    assert by_page[2].title == "Board Briefing Q3 > Capital works"
    assert by_page[2].content == (
        "- Kestrel Road pump replaced\n- Reservoir roof resealed\n\nNotes: Both finished under budget."
    )
    assert by_page[3].title == "Board Briefing Q3 > Leakage"
    assert by_page[4].title == "Board Briefing Q3 > Targets" and "| Leakage | 12% |" in by_page[4].content


def test_xlsx_rows_stay_under_their_header_in_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "meter-readings.xlsx"
    header = ["Date", "Zone", "Flow (m3/h)", "Note"]
    readings = [[dt.date(2024, 1, 1) + dt.timedelta(days=n), f"Zone {n % 4}", 12.5 + n, "routine"] for n in range(120)]
    write_xlsx(path, {"Readings": [header, *readings], "Zones": [["Zone", "Area"], ["Zone 1", "Eastside"]]})
    document = parse_file(path, path.read_bytes())
    _consecutive(document)
    readings_chunks = [chunk for chunk in document.chunks if chunk.title == "Meter readings > Readings"]
    assert len(readings_chunks) > 3
    for chunk in readings_chunks:  # each chunk alone says what its columns are
        assert chunk.content.startswith("| Date | Zone | Flow (m3/h) | Note |\n| --- | --- | --- | --- |\n")
    rows = [unit for chunk in readings_chunks for unit in quotable_units(chunk.content)]
    assert len(rows) == len(set(rows)) == 120  # every row once, none lost between chunks
    assert rows[0] == "2024-01-01 | Zone 0 | 12.5 | routine" and rows[-1].startswith("2024-04-29 | Zone 3 | 131.5")
    (zones,) = [chunk for chunk in document.chunks if chunk.title == "Meter readings > Zones"]
    assert zones.content == "| Zone | Area |\n| --- | --- |\n| Zone 1 | Eastside |" and zones.page is None


def test_csv_is_a_table_with_its_header_and_its_delimiter_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "outages.csv"
    write_csv(
        path,
        [["Date", "Street", "Hours"], *[[f"2024-05-{d:02d}", "Mill Lane; north end", d] for d in range(1, 31)]],
        delimiter=";",
    )
    document = parse_file(path, path.read_bytes())
    assert document.title == "Outages" and len(document.chunks) >= 2
    assert all(chunk.content.startswith("| Date | Street | Hours |\n") for chunk in document.chunks)
    assert "| 2024-05-07 | Mill Lane; north end | 7 |" in _text(document.chunks)


@pytest.mark.parametrize("name", ["a.pdf", "b.DOCX", "c.pptx", "d.xlsx", "e.csv"])
def test_the_new_extensions_are_known_kinds(name: str) -> None:
    assert kind_for(name) == name.rsplit(".", 1)[1].lower()


def test_the_app_imports_no_parser_library_until_a_file_of_its_kind_is_read() -> None:
    """The parsers are not deployed to Azure (pyproject's local-only): importing ingestion must not need them."""
    import subprocess
    import sys

    from tests.processes import ROOT

    probe = (
        "import sys, ingestion.ingest, ingestion.sources, providers.azure.search_index; "
        "print(sorted(m for m in ('pypdfium2', 'docx', 'pptx', 'python_calamine', 'lxml') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
