"""Which files are ingested, and the names, hashes and ids they are stored under.

Sources are recorded as POSIX paths relative to a base folder when under it (the bundled corpus is
recorded as `corpus/...`), else absolute. A file's content hash covers its bytes and the chunker
version, so a new chunker re-chunks unchanged files; chunk ids are content-addressed, so an edited
file gets new ids and an id cited before the edit never resolves to different text. The ids are
the same in every index (they are the Azure AI Search keys too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from hashlib import blake2b
from pathlib import Path

from contracts.errors import ProviderError
from ingestion.chunking import CHUNKER_VERSION, Chunk, ParsedDocument, chunk_document, kind_for
from ingestion.formats import UnreadableDocument, parse_document

__all__ = [
    "CORPUS_DIR",
    "UnreadableDocument",
    "chunk_id",
    "content_hash",
    "embedding_text",
    "looks_binary",
    "parse_file",
    "source_name",
    "walk_files",
]

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"

_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".pipeline"})
_SNIFF_BYTES = 8192


def walk_files(paths: Iterable[str | Path], *, also: Callable[[Path], bool] | None = None) -> list[Path]:
    """The supported files under `paths` (files or directories, walked recursively), sorted, each once.

    `also` accepts more files than the local parsers read (the images a Document Intelligence parser reads).
    Raises `ProviderError.invalid_input` when a path does not exist.
    """
    return sorted(dict.fromkeys(_walk(paths, also or (lambda _: False))))


def _walk(paths: Iterable[str | Path], also: Callable[[Path], bool]) -> Iterator[Path]:
    for entry in paths:
        path = Path(entry).expanduser().resolve()
        if path.is_file():
            if kind_for(path) is None and not also(path) and looks_binary(path):
                raise ProviderError.invalid_input(
                    f"{entry} is not a document: pipeline index reads PDF, DOCX, PPTX, XLSX, CSV, Markdown,"
                    " text and HTML"
                )
            yield path  # named explicitly: ingested whatever its extension (as text when unknown)
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if any(part in _SKIPPED_DIRS or part.startswith(".") for part in relative[:-1]):
                    continue
                # "~$name.docx": the lock file Office keeps beside a document while it is open.
                known = kind_for(child) or also(child)
                if child.is_file() and known and not child.name.startswith((".", "~$")):
                    yield child
        else:
            raise ProviderError.invalid_input(f"no such file or directory: {entry}")


def looks_binary(path: Path) -> bool:
    """A NUL byte in the first 8 KiB, git's own test: executables, images and archives have one, text never.

    The folder walk goes by extension; a file named on the command line is read whatever its name,
    so its content decides (the binary document formats are known by their extension, and a file that
    only claims to be one fails to parse and is reported).
    """
    with path.open("rb") as file:
        return b"\0" in file.read(_SNIFF_BYTES)


def source_name(path: Path, base: Path | None) -> str:
    """How a file is recorded as a source: relative to `base` when under it, else its absolute POSIX path."""
    if base is not None and path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return path.as_posix()


def content_hash(raw: bytes, parser: str = "") -> str:
    """The change-detection hash of a file: its bytes, the chunker version and the parser that reads it (so a
    new chunker, or a file read by another parser, is chunked again)."""
    version = CHUNKER_VERSION + (f"+{parser}" if parser else "")
    return hashlib.sha256(version.encode() + b"\0" + raw).hexdigest()


def chunk_id(source: str, content_hash: str, ordinal: int) -> str:
    """The id of a chunk: a hash of where it comes from, which version, which place (also the Azure key)."""
    return blake2b(f"{source}\0{content_hash}\0{ordinal}".encode(), digest_size=10).hexdigest()


def parse_file(path: Path, raw: bytes) -> ParsedDocument:
    """A file's chunks, by its kind (unknown extensions, named explicitly, are read as text).

    Raises `UnreadableDocument` (with the reason) for a file its parser cannot read: corrupt, encrypted,
    a scan without text, or an archive that would inflate too far.
    """
    kind = kind_for(path) or "text"
    if kind == "markdown" or kind == "text" or kind == "html":
        return chunk_document(raw.decode("utf-8", errors="replace"), kind=kind, name=path.name)
    return parse_document(raw, kind=kind, name=path.name)


def embedding_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its heading path, then its text (the headings say what it is about)."""
    return f"{chunk.title}\n{chunk.content}"
