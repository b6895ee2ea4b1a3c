"""Ingestion benchmark: files/s, pages/s and peak memory of `index_paths` over a generated folder of mixed formats.

    .venv/bin/python bench/ingest.py --files 400 --minilm-files 100   # hashing embedder, then MiniLM
    .venv/bin/python bench/ingest.py --files 400 --embedder hash      # parser-bound only
    .venv/bin/python bench/ingest.py parse --files 400                # per format, parsing alone
    VENV/bin/python bench/ingest.py libraries [PDF...]                # the candidate parsers side by side

`libraries` times each PDF text extractor that is installed (pypdfium2, pypdf, pdfminer.six: install
the ones the project does not use into a scratch venv) on the given PDFs (default: the PDF manuals
under /usr/share/doc and the water-utility set's PDFs), and python-calamine against openpyxl on a
20,000-row workbook. It imports nothing of the project, so it runs in that scratch venv.

MiniLM embeds a few chunks a second on this 2-core box (bench/RESULTS-ingest.md), so its run takes a
smaller folder (`--minilm-files`, the same mix) to stay within a few minutes.

The folder (written once per `--files` under the temp directory, seed fixed, so runs compare) holds
Markdown, text, HTML, multi-page PDFs with running headers and hyphenation, DOCX, PPTX, XLSX and CSV in
the proportions of `_MIX`, made by tests/ingestion/documents.py. Each measured run is a new child process
(so its peak RSS, `ru_maxrss`, is its own) that indexes the folder into a new local SQLite index:
- `full`: everything new;
- `unchanged`: the same folder again (every file skipped by content hash);
- `resumed`: a run killed (SIGKILL) once half the files are read, then run again: what the re-run costs.
Pages are the paginated units: PDF pages and PPTX slides. Results are in bench/RESULTS-ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

__all__ = ["main"]

_MIX = {"md": 20, "txt": 10, "html": 10, "pdf": 25, "docx": 15, "pptx": 8, "xlsx": 6, "csv": 6}  # percent
_WORDS = (  # noqa: SIM905 - a sentence of words reads better than a 32-line list
    "water reservoir pumping station treatment chlorine hydrant pressure network customer billing meter "
    "maintenance inspection turbidity filtration sediment distribution capacity rainfall catchment valve "
    "replacement kilometre emergency notice quality laboratory sampling compliance operations engineering"
).split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def generate(folder: Path, files: int, seed: int = 7) -> dict[str, int]:
    """Write the mixed folder; returns counts per format and the pages (PDF pages + slides)."""
    from tests.ingestion.documents import write_csv, write_docx, write_pdf, write_pptx, write_xlsx

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [kind for kind, share in _MIX.items() for _ in range(share)]
    rng.shuffle(kinds)  # every stretch of the folder mixes the formats
    counts: dict[str, int] = defaultdict(int)
    for n in range(files):
        kind = kinds[n % len(kinds)]
        path = folder / f"doc{n:05d}.{kind}"
        sections = [(f"Section {s}", [_paragraph(rng) for _ in range(rng.randint(2, 4))]) for s in range(3)]
        if kind == "md":
            path.write_text("\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) for h, ps in sections), encoding="utf-8")
        elif kind == "txt":
            path.write_text("\n\n".join(p for _, ps in sections for p in ps), encoding="utf-8")
        elif kind == "html":
            body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections)
            path.write_text(f"<html><head><title>Doc {n}</title></head><body>{body}</body></html>", encoding="utf-8")
        elif kind in ("pdf", "docx"):
            blocks: list = [("title", f"Report {n}")]
            for h, ps in sections * (2 if kind == "pdf" else 1):
                blocks += [("h1", h), *(("p", p) for p in ps)]
            if kind == "pdf":
                counts["pdf_pages"] += len(write_pdf(path, blocks, header=f"Utility report {n} — internal"))
            else:
                write_docx(path, blocks)
        elif kind == "pptx":
            slides = [(f"Briefing {n}", [], "")] + [
                (h, [_sentence(rng) for _ in range(4)], ps[0]) for h, ps in sections
            ]
            write_pptx(path, slides, subtitle="Operations")
            counts["pptx_pages"] += len(slides)
        else:
            rows = [["Date", "Zone", "Flow", "Note"]]
            rows += [
                [f"2024-{1 + r % 12:02d}-{1 + r % 28:02d}", f"Z{r % 9}", 10 + r, _sentence(rng)] for r in range(80)
            ]
            if kind == "xlsx":
                write_xlsx(path, {"Readings": rows})
            else:
                write_csv(path, rows)
        counts[kind] += 1
    counts["files"] = files
    counts["pages"] = counts["pdf_pages"] + counts["pptx_pages"]
    (folder / "manifest.json").write_text(json.dumps(counts), encoding="utf-8")
    return dict(counts)


def _folder(files: int) -> tuple[Path, dict[str, int]]:
    folder = Path(tempfile.gettempdir()) / f"pipeline-bench-ingest-{files}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return folder, json.loads(manifest.read_text(encoding="utf-8"))
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    counts = generate(folder, files)
    print(f"generated {files} files in {time.perf_counter() - started:.1f} s: {counts}", file=sys.stderr)
    return folder, counts


def child(folder: Path, data: Path, embedder_name: str, kill_at: int | None) -> None:
    """One measured run (in its own process): index `folder` into `data`, print a JSON line."""
    import resource
    import signal

    os.environ["PIPELINE_LOCAL_EMBEDDER"] = embedder_name
    from ingestion.ingest import index_paths
    from providers.factory import get_embedder
    from providers.local.sqlite_index import SqliteIndex

    started = time.perf_counter()
    embedder = get_embedder()
    loaded = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        if kill_at is not None and done >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    with SqliteIndex(data, embedder=embedder) as index:
        report = index_paths([folder], index=index, embedder=embedder, base=folder, progress=progress)
    result = {
        "seconds": report.seconds,
        "embedder_load_s": loaded,
        "indexed": len(report.indexed),
        "skipped": len(report.skipped),
        "failed": len(report.failed),
        "chunks": report.chunks,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


def _run(folder: Path, data: Path, embedder: str, kill_at: int | None = None) -> dict[str, float] | None:
    command = [sys.executable, __file__, "child", str(folder), str(data), embedder]
    command += [str(kill_at)] if kill_at is not None else []
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if kill_at is not None:
        assert done.returncode == -9, done.stderr
        return None
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(runs: list[tuple[str, int]]) -> None:
    print("| embedder | run | files | s | files/s | pages/s | chunks | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for embedder, files in runs:
        folder, counts = _folder(files)
        print(f"folder: {files} files, {counts['pages']} pages (PDF pages + slides): {counts}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as scratch:
            data = Path(scratch)
            full = _run(folder, data / "full", embedder)
            again = _run(folder, data / "full", embedder)
            _run(folder, data / "resumed", embedder, kill_at=files // 2)
            resumed = _run(folder, data / "resumed", embedder)
        for name, row in (("full", full), ("unchanged", again), ("resumed after kill at 50 %", resumed)):
            assert row is not None
            rate = files / row["seconds"]
            pages = counts["pages"] / row["seconds"] if name == "full" else float("nan")
            print(
                f"| {embedder} | {name} | {row['indexed']:.0f} new, {row['skipped']:.0f} skipped | "
                f"{row['seconds']:.1f} | {rate:.1f} | {pages:.1f} | {row['chunks']:.0f} | {row['maxrss_mb']:.0f} |"
            )


def parse_only(files: int) -> None:
    """Parsing and chunking alone, per format (no embedder, no index), in this process."""
    from ingestion.sources import parse_file

    folder, counts = _folder(files)
    seconds: dict[str, float] = defaultdict(float)
    chunks: dict[str, int] = defaultdict(int)
    for path in sorted(folder.glob("doc*")):
        raw = path.read_bytes()
        started = time.perf_counter()
        document = parse_file(path, raw)
        seconds[path.suffix[1:]] += time.perf_counter() - started
        chunks[path.suffix[1:]] += len(document.chunks)
    print("| format | files | ms/file | pages/s | chunks/file |")
    print("|---|---|---|---|---|")
    for kind in _MIX:
        n = counts.get(kind, 0)
        if n:
            pages = counts.get(f"{kind}_pages", 0)
            rate = f"{pages / seconds[kind]:.0f}" if pages else "-"
            print(f"| {kind} | {n} | {seconds[kind] / n * 1000:.1f} | {rate} | {chunks[kind] / n:.1f} |")
    print(f"total parse {sum(seconds.values()):.1f} s for {files} files: {files / sum(seconds.values()):.1f} files/s")


def _pdf_extractors() -> dict[str, Callable[[Path], list[str]]]:
    """Plain text per page, by each installed library's own simplest call."""
    extractors: dict[str, Callable[[Path], list[str]]] = {}
    try:
        import pypdfium2

        def pdfium(path: Path) -> list[str]:
            document = pypdfium2.PdfDocument(path)
            pages = [page.get_textpage().get_text_range() for page in document]
            document.close()
            return pages

        extractors["pypdfium2"] = pdfium
    except ImportError:
        pass
    try:
        import pypdf

        extractors["pypdf"] = lambda path: [page.extract_text() for page in pypdf.PdfReader(path).pages]
    except ImportError:
        pass
    try:
        from pdfminer.high_level import extract_pages
        from pdfminer.layout import LTTextContainer

        def pdfminer(path: Path) -> list[str]:
            pages = extract_pages(path)
            return ["".join(e.get_text() for e in page if isinstance(e, LTTextContainer)) for page in pages]

        extractors["pdfminer.six"] = pdfminer
    except ImportError:
        pass
    return extractors


def libraries(pdfs: list[Path]) -> None:
    import re

    if not pdfs:
        pdfs = sorted(Path("/usr/share/doc").glob("*/*.pdf")) + sorted(
            (ROOT / "evaluation" / "sets" / "water-utility" / "docs").glob("*.pdf")
        )
    print("| PDF | library | pages | ms/page | words | line-end hyphens left |")
    print("|---|---|---|---|---|---|")
    for path in pdfs:
        for name, extract in _pdf_extractors().items():
            started = time.perf_counter()
            pages = extract(path)
            per_page = (time.perf_counter() - started) * 1000 / max(1, len(pages))
            text = "\n".join(pages)
            words = len(re.findall(r"[A-Za-z]+", text))
            hyphens = len(re.findall(r"[a-z]-\s*[\r\n]+\s*[a-z]", text))
            print(f"| {path.name} | {name} | {len(pages)} | {per_page:.1f} | {words} | {hyphens} |")
    workbook = Path(tempfile.gettempdir()) / "pipeline-bench-20000-rows.xlsx"
    if not workbook.exists():
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(["Date", "Station", "Flow (m3/h)", "Pressure (bar)", "Note"])
        for i in range(20_000):
            sheet.append([f"2024-01-{i % 28 + 1:02d}", f"ST-{i % 40}", i * 1.5, 3.2 + (i % 7) / 10, "routine"])
        book.save(workbook)
    for name in ("python_calamine", "openpyxl"):
        try:
            started = time.perf_counter()
            rows = _read_workbook(name, workbook)
        except ImportError:
            continue
        print(f"{name}: {rows} rows of {workbook.name} in {time.perf_counter() - started:.2f} s")


def _read_workbook(name: str, path: Path) -> int:
    if name == "openpyxl":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        return sum(1 for sheet in book.worksheets for _ in sheet.iter_rows(values_only=True))
    from python_calamine import CalamineWorkbook

    calamine = CalamineWorkbook.from_path(str(path))
    return sum(len(calamine.get_sheet_by_name(n).to_python()) for n in calamine.sheet_names)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        kill_at = int(sys.argv[5]) if len(sys.argv) > 5 else None
        child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], kill_at)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=["index", "parse", "libraries"], default="index")
    parser.add_argument("pdfs", nargs="*", type=Path, help="libraries: the PDFs to extract")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--minilm-files", type=int, default=100)
    parser.add_argument("--embedder", choices=["hash", "minilm", "both"], default="both")
    args = parser.parse_args()
    if args.mode == "parse":
        parse_only(args.files)
        return
    if args.mode == "libraries":
        libraries(args.pdfs)
        return
    runs = [("hash", args.files), ("minilm", args.minilm_files)]
    measure([run for run in runs if args.embedder in (run[0], "both")])


if __name__ == "__main__":
    main()
