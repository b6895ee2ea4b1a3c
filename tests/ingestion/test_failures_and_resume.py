"""Files that cannot be read are reported by name with their reason while the rest is indexed; real
binaries named on the command line are still refused; a run killed midway keeps what it finished."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from contracts.errors import ProviderError
from ingestion.formats import UnreadableDocument, parse_document
from ingestion.formats.pdf import NO_TEXT_LAYER
from ingestion.ingest import index_paths
from ingestion.sources import walk_files
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex
from tests.ingestion.documents import write_csv, write_docx, write_pdf, write_pptx, write_xlsx
from tests.processes import ROOT

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(64)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4


def _scanned_pdf(path: Path) -> None:
    """A page with drawing on it but no text: what a scanner without OCR makes."""
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(path))
    page.rect(72, 72, 400, 600, fill=1)
    page.showPage()
    page.save()


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good files of every format beside a corrupt DOCX, an encrypted PDF and a scanned PDF."""
    root = tmp_path / "docs"
    root.mkdir()
    write_pdf(root / "report.pdf", [("h1", "Report"), ("p", "Reservoir levels stayed above 80 percent.")])
    write_docx(root / "handbook.docx", [("h1", "Handbook"), ("p", "Bills are issued every two months.")])
    write_pptx(root / "deck.pptx", [("Deck", [], ""), ("Leakage", ["Night flow down 8 percent"], "")])
    write_xlsx(root / "readings.xlsx", {"Readings": [["Zone", "Flow"], ["East", 12.5]]})
    write_csv(root / "outages.csv", [["Street", "Hours"], ["Mill Lane", 4]])
    (root / "notes.md").write_text("# Notes\n\nMarkdown still works.\n")
    good = (root / "handbook.docx").read_bytes()
    (root / "broken.docx").write_bytes(good[: len(good) // 2])
    write_pdf(root / "locked.pdf", [("p", "Salaries of the board.")], password="secret")
    _scanned_pdf(root / "scan.pdf")
    (root / "photo.png").write_bytes(PNG)  # not a document: the folder walk leaves it out
    return root


def test_unreadable_files_are_reported_with_reasons_and_the_others_indexed(mixed: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index:
        report = index_paths([mixed], index=index, embedder=embedder, base=mixed)
        assert sorted(report.indexed) == [
            "deck.pptx", "handbook.docx", "notes.md", "outages.csv", "readings.xlsx", "report.pdf",
        ]  # fmt: skip
        assert sorted(report.failed) == ["broken.docx", "locked.pdf", "scan.pdf"]
        assert "corrupt or not a zip archive" in report.failed["broken.docx"]
        assert report.failed["locked.pdf"] == "encrypted: it needs a password to open"
        assert report.failed["scan.pdf"] == NO_TEXT_LAYER
        assert "scanned?" in NO_TEXT_LAYER and "Document Intelligence" in NO_TEXT_LAYER
        assert sorted(index.document_hashes()) == sorted(report.indexed)


def test_an_encrypted_office_file_is_named_as_such(tmp_path: Path) -> None:
    ole = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)  # how Office stores a password-protected DOCX
    with pytest.raises(UnreadableDocument, match="encrypted"):
        parse_document(ole, kind="docx", name="secret.docx")


def test_an_archive_that_would_inflate_past_the_limits_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(70 * 2**20))  # 70 MiB of zeros in well under 1 MiB
    with pytest.raises(UnreadableDocument, match="zip bomb"):
        parse_document(path.read_bytes(), kind="xlsx", name=path.name)


def test_a_file_that_only_claims_a_format_fails_with_the_parser_reason(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="not a readable PDF"):
        parse_document(PNG, kind="pdf", name="photo.pdf")


@pytest.mark.parametrize(("name", "content"), [("photo.png", PNG), ("tool", ELF), ("setup.exe", b"MZ\x90\x00" + ELF)])
def test_a_named_image_or_executable_is_still_refused(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ProviderError, match="is not a document"):
        walk_files([path])


def test_the_folder_walk_takes_documents_by_extension_and_leaves_images_and_office_lock_files_out(
    mixed: Path,
) -> None:
    (mixed / "~$handbook.docx").write_bytes(b"\x05alice" + bytes(150))  # Word's lock file while it is open
    names = {path.name for path in walk_files([mixed])}
    assert "photo.png" not in names and "~$handbook.docx" not in names
    assert {"report.pdf", "deck.pptx", "readings.xlsx", "outages.csv"} <= names


def test_a_deck_without_the_pptx_extra_is_reported_with_the_install_hint(
    mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pptx", None)  # what an install without python-pptx does on import
    with pytest.raises(UnreadableDocument) as raised:
        parse_document((mixed / "deck.pptx").read_bytes(), kind="pptx", name="deck.pptx")
    assert str(raised.value) == "reading PPTX needs python-pptx (pip install 'durable-ai-pipeline[pptx]')"


def _cli(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PIPELINE_DATA_DIR": str(data), "PIPELINE_LOCAL_EMBEDDER": "hash"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pipeline_index_exits_non_zero_with_one_line_per_failed_file(mixed: Path, tmp_path: Path) -> None:
    done = _cli(["index", str(mixed)], tmp_path / "data")
    assert done.returncode == 1, done.stderr
    assert "6 new or changed, 0 unchanged, 3 failed" in done.stdout
    failed = sorted(line for line in done.stderr.splitlines() if line.startswith("failed "))
    assert failed == [
        f"failed {mixed / 'broken.docx'}: " + failed[0].split(": ", 1)[1],
        f"failed {mixed / 'locked.pdf'}: encrypted: it needs a password to open",
        f"failed {mixed / 'scan.pdf'}: {NO_TEXT_LAYER}",
    ]
    assert "Traceback" not in done.stderr
    for bad in ("broken.docx", "locked.pdf", "scan.pdf"):
        (mixed / bad).unlink()
    again = _cli(["index", str(mixed)], tmp_path / "data")
    assert again.returncode == 0 and "0 new or changed, 6 unchanged" in again.stdout, again.stdout + again.stderr


_KILLED_MIDWAY = """
import os, signal, sys
from ingestion.ingest import index_paths
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex

class DiesOnThirdBatch(HashingEmbedder):
    calls = 0
    def embed_array(self, texts):
        DiesOnThirdBatch.calls += 1
        if DiesOnThirdBatch.calls == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # no unwinding, no finally: a power cut
        return super().embed_array(texts)

embedder = DiesOnThirdBatch()
with SqliteIndex(sys.argv[2], embedder=embedder) as index:
    index_paths([sys.argv[1]], index=index, embedder=embedder, base=sys.argv[1], batch_size=4)
"""


def test_a_run_killed_midway_keeps_the_files_it_finished_and_a_rerun_skips_them(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(12):  # two chunks each: a batch of 4 finishes two files
        text = f"# File {n}\n\nFirst part of file {n}.\n\n## Second\n\nSecond part of file {n}.\n"
        (docs / f"f{n:02d}.md").write_text(text)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MIDWAY, str(docs), str(tmp_path / "index")], cwd=ROOT, timeout=60
    )
    assert killed.returncode == -9
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index:
        kept = sorted(index.document_hashes())
        assert kept == ["f00.md", "f01.md", "f02.md", "f03.md"]  # the two batches embedded before the kill
        report = index_paths([docs], index=index, embedder=embedder, base=docs)
        assert sorted(report.skipped) == kept and len(report.indexed) == 8 and not report.failed
        assert index.chunk_count() == 24
