"""Stale-answer benchmark: with 100,000 recorded answers, how long re-indexing one changed document takes to
find the answers that cited it, and how fast the Stale events go out.

    .venv/bin/python bench/stale.py                       # 100,000 answers over 1,000 documents
    .venv/bin/python bench/stale.py --answers 20000       # smaller

A local index of `--documents` Markdown files (5 sections each, hashing embedder) is built in a temporary
folder; `--answers` answers are recorded in the provenance store beside it, each citing 1-3 passages
picked at random, and one "hot" document is cited by `--hot` answers more. Then, on the real code path
(`ingestion.index_paths` through `providers.stale_answers.StaleTracker`, `seal`, `publish_pending` to the
local event sink):

- `answers_citing`: "which answers cited this chunk?" for 1,000 random chunks (p50, p99);
- `typical`: one section of an ordinary document edited and the document re-indexed: the whole
  `index_paths` call, the settling (finding the answers) inside it, sealing and publishing;
- `hot`: the same for the hot document: `--hot` Stale events sealed and published.

Results are in bench/RESULTS-stale.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from ingestion.ingest import index_paths  # noqa: E402
from providers.local.events import LocalEventSink  # noqa: E402
from providers.local.hashing_embedder import HashingEmbedder  # noqa: E402
from providers.local.provenance_store import SqliteProvenanceStore  # noqa: E402
from providers.local.sqlite_index import SqliteIndex  # noqa: E402
from providers.provenance import AnswerRecord, CitedPassage, passage_hash  # noqa: E402
from providers.stale_answers import StaleTracker, publish_pending, seal  # noqa: E402

__all__ = ["main"]

_SECTIONS = 5


def _document(n: int) -> str:
    sections = [
        f"## Topic {n}.{s}\n\nDocument {n} section {s}: the value of setting {n}-{s} is {n * 7 + s} units, "
        f"reviewed every {s + 2} weeks by team {n % 17}.\n"
        for s in range(_SECTIONS)
    ]
    return f"# Document {n}\n\n" + "\n".join(sections)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=1_000)
    parser.add_argument("--hot", type=int, default=10_000, help="answers that also cite the hot document")
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    embedder = HashingEmbedder()
    with tempfile.TemporaryDirectory(prefix="bench-stale-") as tmp:
        root = Path(tmp)
        docs = root / "docs"
        docs.mkdir()
        for n in range(args.documents):
            (docs / f"doc-{n:05d}.md").write_text(_document(n))
        index = SqliteIndex(root / "index", embedder=embedder, ann_threshold=0)
        store = SqliteProvenanceStore.in_index_dir(root / "index")
        began = time.perf_counter()
        index_paths([docs], index=index, embedder=embedder, recreate=True, base=docs)
        print(
            f"indexed {args.documents} documents, {index.chunk_count()} chunks in {time.perf_counter() - began:.1f} s"
        )

        passages = {
            source: index.source_passages(source) for source in (f"doc-{n:05d}.md" for n in range(args.documents))
        }
        everything = [p for ps in passages.values() for p in ps]
        hot_source, typical_source = "doc-00000.md", "doc-00001.md"
        began = time.perf_counter()
        for a in range(args.answers + args.hot):
            cited = rng.sample(everything, rng.randint(1, 3))
            if a >= args.answers:  # the hot document's answers: one of its passages, beside the others
                cited[0] = passages[hot_source][0]
            store.record_answer(
                AnswerRecord(
                    instance_id=f"run-{a:06d}",
                    question=f"question {a}?",
                    answered_at="2026-12-07T00:00:00Z",
                    citations=tuple(
                        CitedPassage(p.id, passage_hash(p.content), p.source, p.page) for p in dict.fromkeys(cited)
                    ),
                )
            )
        total = args.answers + args.hot
        print(f"recorded {total} answers in {time.perf_counter() - began:.1f} s")

        samples = []
        for passage in rng.sample(everything, min(1_000, len(everything))):
            t = time.perf_counter()
            store.answers_citing(passage.id)
            samples.append(time.perf_counter() - t)
        samples.sort()
        print(f"answers_citing: p50 {_ms(statistics.median(samples))}, p99 {_ms(samples[int(len(samples) * 0.99)])}")

        for label, source in (("typical", typical_source), ("hot", hot_source)):
            cited_first = {p.id for p in passages[source][:1]}
            expected = {i for p in cited_first for i in store.answers_citing(p)}
            n = int(source[4:9])
            (docs / source).write_text(_document(n).replace(f"is {n * 7} units", f"is {n * 7 + 1000} units"))
            tracker = StaleTracker(index, store, index.source_passages)
            settle = tracker.settle
            settled: list[float] = []

            def timed(name: str, settle=settle, settled=settled) -> None:  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                settle(name)
                settled.append(time.perf_counter() - t)

            tracker.settle = timed  # type: ignore[method-assign]
            t = time.perf_counter()
            index_paths([docs / source], index=tracker, embedder=embedder, base=docs)
            reindex = time.perf_counter() - t
            t = time.perf_counter()
            sealed = seal(store, reanswer=False)
            sealing = time.perf_counter() - t
            t = time.perf_counter()
            with LocalEventSink(root / "events", start_worker=False) as sink:
                report = publish_pending(store, sink, event_source="/bench")
            publishing = time.perf_counter() - t
            found = {e.instance_id for e in sealed}
            assert found == expected, (len(found), len(expected))
            rate = report.published / publishing if publishing else 0.0
            print(
                f"{label}: {source} changed, {len(found)} of {total} answers stale; index_paths {_ms(reindex)} "
                f"(settling {_ms(sum(settled))}), seal {_ms(sealing)}, publish {report.published} events "
                f"in {_ms(publishing)} ({rate:,.0f}/s)"
            )
        store.close()
        index.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
