"""Azure AI Document Intelligence through the real SDK, against a fake service speaking its REST protocol.

The analyze call is a long-running operation: POST `…/documentModels/prebuilt-layout:analyze` answers 202 with
an `Operation-Location`, which is polled until `status` is `succeeded`. `recorded_layout.json` is a result of
the shape API version 2024-11-30 returns for Markdown output (page furniture as comments, a table as HTML).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.errors import ErrorKind
from providers.errors import ProviderError

pytest.importorskip("azure.ai.documentintelligence")

from providers.azure.document_intelligence import DocumentIntelligenceParser, layout_pages

RECORDED = json.loads((Path(__file__).parent / "recorded_layout.json").read_text(encoding="utf-8"))
ANALYZE_PATH = "/documentintelligence/documentModels/prebuilt-layout:analyze"
SCAN = b"%PDF-1.7 a scanned handbook, two pages of images"


def _operation(server, *answers):
    location = (
        f"{server.url}/documentintelligence/documentModels/prebuilt-layout/analyzeResults/op-1?api-version=2024-11-30"
    )
    server.reply(server_reply(202, {}, {"Operation-Location": location}), *answers)


def server_reply(status, payload, headers=None):
    from tests.providers.azure.conftest import Reply

    return Reply.json(payload, status, headers)


def _parser(url: str, credential="di-key") -> DocumentIntelligenceParser:
    return DocumentIntelligenceParser(url, credential, polling_interval_s=0, retry_total=0, timeout=5)


def test_a_scanned_pdf_becomes_chunks_with_their_pages_and_no_page_furniture(server) -> None:
    _operation(server, server_reply(200, {"status": "running"}), server_reply(200, RECORDED))
    with _parser(server.url) as parser:
        document = parser.parse(Path("handbook.pdf"), SCAN)

    post = server.requests[0]
    assert post.method == "POST" and post.path == ANALYZE_PATH
    assert post.query["outputContentFormat"] == "markdown"
    assert post.query["stringIndexType"] == "unicodeCodePoint"  # offsets that index a Python string
    assert post.query["api-version"]
    assert post.headers["ocp-apim-subscription-key"] == "di-key"
    assert post.body == SCAN  # the file itself, not a URL or base64
    assert [r.method for r in server.requests] == ["POST", "GET", "GET"]

    assert document.title == "Field Handbook"
    by_page = {chunk.page: chunk for chunk in document.chunks}
    assert set(by_page) == {1, 2}
    assert "Hard hats are worn" in by_page[1].content and by_page[1].title.endswith("Safety")
    # The allowances section starts on page 2: its chunks say so, and its table is a Markdown table.
    allowance = " ".join(c.content for c in document.chunks if c.page == 2)
    assert "Meal allowances" in allowance and "| North | 42 EUR |" in allowance
    assert [c.ordinal for c in document.chunks] == list(range(len(document.chunks)))
    text = " ".join(c.content + c.title for c in document.chunks)
    for furniture in ("Contoso Field Handbook", "Confidential", "PageNumber", "<!--", "<table"):
        assert furniture not in text


def test_pages_are_cut_by_their_spans_even_without_page_break_markers() -> None:
    result = dict(RECORDED["analyzeResult"])
    result["content"] = result["content"].replace("<!-- PageBreak -->", "                  ")
    assert [number for number, _ in layout_pages(result)] == [1, 2]
    assert "Meal allowances" in layout_pages(result)[1][1]


def test_identity_sends_a_bearer_token_for_cognitive_services(tls_server, token_credential) -> None:
    _operation(tls_server, server_reply(200, RECORDED))
    _parser(tls_server.url, token_credential).parse(Path("scan.png"), b"\x89PNG image")
    assert tls_server.requests[0].headers["authorization"] == "Bearer fake-entra-token"
    assert "ocp-apim-subscription-key" not in tls_server.requests[0].headers


@pytest.mark.parametrize(
    ("status", "kind"),
    [(403, ErrorKind.CONFIGURATION), (429, ErrorKind.TRANSIENT), (400, ErrorKind.REJECTED)],
)
def test_service_errors_keep_their_kind(server, status: int, kind: ErrorKind) -> None:
    server.reply(server_reply(status, {"error": {"code": "Denied", "message": "no"}}, {"Retry-After": "1"}))
    with pytest.raises(ProviderError) as caught:
        _parser(server.url).parse(Path("a.pdf"), SCAN)
    assert caught.value.kind == kind
    assert "document intelligence" in caught.value.message


def test_a_failed_analysis_is_an_error_naming_the_reason(server) -> None:
    failed = {"status": "failed", "error": {"code": "InvalidContent", "message": "The file is corrupted."}}
    _operation(server, server_reply(200, failed))
    with pytest.raises(ProviderError) as caught:
        _parser(server.url).parse(Path("broken.pdf"), SCAN)
    assert "corrupted" in caught.value.message


def _analyze(server, recorded: dict) -> None:
    """Every POST gets an operation; every poll of it the recorded result."""
    from tests.providers.azure.conftest import Reply

    def answer(request) -> Reply:
        if request.method == "POST":
            path = "/documentintelligence/documentModels/prebuilt-layout/analyzeResults/op?api-version=2024-11-30"
            return Reply.json({}, 202, {"Operation-Location": server.url + path})
        return Reply.json(recorded)

    server.default = answer


def test_pipeline_index_reads_scans_and_images_with_it_and_everything_else_locally(server, tmp_path: Path) -> None:
    from ingestion.ingest import index_paths
    from providers.local.hashing_embedder import HashingEmbedder
    from providers.local.sqlite_index import SqliteIndex

    _analyze(server, RECORDED)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "scan.pdf").write_bytes(SCAN)
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photographed page")
    (docs / "notes.md").write_text("# Notes\n\nRead locally, never sent to the service.\n")
    (docs / "program.exe").write_bytes(b"MZ\x00\x00")  # not a document for either parser
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index, _parser(server.url) as parser:
        report = index_paths([docs], index=index, embedder=embedder, base=tmp_path, parser=parser)
        assert sorted(report.indexed) == ["docs/notes.md", "docs/photo.jpg", "docs/scan.pdf"]
        assert [r.body for r in server.requests if r.method == "POST"] == [
            b"\xff\xd8\xff\xe0 a photographed page",
            SCAN,
        ]
        pages = {p.page for p in index.fetch(index.chunk_ids("docs/scan.pdf"))}
        assert pages == {1, 2}
        assert [p.page for p in index.fetch(index.chunk_ids("docs/notes.md"))] == [None]

        # The same bytes read by the local parser are another document: switching parsers reads them again.
        again = index_paths([docs], index=index, embedder=embedder, base=tmp_path, parser=parser)
        assert again.indexed == [] and len(again.skipped) == 3
        local = index_paths([docs / "scan.pdf"], index=index, embedder=embedder, base=tmp_path)
        assert local.skipped == [] and "docs/scan.pdf" in local.failed  # read again, by pypdfium2 this time


def test_a_file_the_service_cannot_read_is_reported_and_an_access_error_stops_the_run(server, tmp_path: Path) -> None:
    from ingestion.ingest import index_paths
    from providers.local.hashing_embedder import HashingEmbedder
    from providers.local.sqlite_index import SqliteIndex

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(SCAN)
    (docs / "notes.md").write_text("# Notes\n\nStill indexed.\n")
    embedder = HashingEmbedder()
    failed = {"status": "failed", "error": {"code": "InvalidContent", "message": "The file is corrupted."}}
    _analyze(server, failed)
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index, _parser(server.url) as parser:
        report = index_paths([docs], index=index, embedder=embedder, base=tmp_path, parser=parser)
        assert report.indexed == ["docs/notes.md"]
        assert "corrupted" in report.failed["docs/broken.pdf"]

        server.default = lambda _: server_reply(403, {"error": {"code": "PermissionDenied", "message": "no role"}})
        with pytest.raises(ProviderError) as caught:
            index_paths([docs], index=index, embedder=embedder, base=tmp_path, parser=parser)
        assert caught.value.kind == ErrorKind.CONFIGURATION  # every file would fail the same way: say it once
