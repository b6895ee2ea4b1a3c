"""Retrieval benchmark: local index build and query latency at scale, ANN recall, and eval scores per embedder.

    .venv/bin/python bench/retrieval.py latency --chunks 10000 100000
    .venv/bin/python bench/retrieval.py eval
    .venv/bin/python bench/retrieval.py ask
    .venv/bin/python bench/retrieval.py ingest --copies 200

`latency` fills a SqliteIndex with synthetic chunks (random words for FTS5; 384-dimension vectors
with low intrinsic dimension plus noise, a stand-in for sentence embeddings) and times the
SQLite build, the vector load, the HNSW build, and full hybrid `search()` calls, exact and
approximate; recall@10 compares the HNSW neighbours with exact ones. `eval` runs
`evaluation/questions.jsonl` over the bundled corpus with the hashing embedder and MiniLM, and
times each question warm (embed + search + answer, a second pass). `ask` times `pipeline ask` as
a new process. `ingest` times `pipeline index` (hashing embedder, so parsing, chunking and
writing dominate) over `--copies` copies of the bundled corpus, each run into a new data
folder. Results are recorded in bench/RESULTS-retrieval.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestion.chunking import Chunk
from ingestion.ingest import DocumentVersion
from providers.local.sqlite_index import SqliteIndex

__all__ = ["main"]

_DIMS = 384
_WORDS = [f"w{i}" for i in range(5_000)]


class _Synthetic:
    """An embedder stand-in: the index only needs `model` and `dimensions`."""

    model = "synthetic-384"
    dimensions = _DIMS


def _vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    projection = np.random.default_rng(1).standard_normal((24, _DIMS)).astype(np.float32)
    x = rng.standard_normal((n, 24)).astype(np.float32) @ projection
    x += 0.5 * rng.standard_normal((n, _DIMS)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def _search_times(index: SqliteIndex, texts: list[str], probes: np.ndarray) -> list[float]:
    """Seconds per hybrid search (top 10), one per (text, vector) probe."""
    times = []
    for text, probe in zip(texts, probes, strict=True):
        started = time.perf_counter()
        index.search(text, probe, top_k=10)
        times.append(time.perf_counter() - started)
    return times


def latency(chunks: int, queries: int = 200) -> dict[str, float]:
    rng = np.random.default_rng(0)
    data = _vectors(chunks + queries, rng)
    base, probes = data[:chunks], data[chunks:]
    words = rng.integers(0, len(_WORDS), size=(chunks, 40))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with SqliteIndex(folder, embedder=_Synthetic(), ann_threshold=0) as index:
            per_doc = 50
            for d, start in enumerate(range(0, chunks, per_doc)):
                rows = range(start, min(start + per_doc, chunks))
                records = [
                    Chunk(title=f"doc {d}", content=" ".join(_WORDS[w] for w in words[r]), ordinal=i)
                    for i, r in enumerate(rows)
                ]
                index.replace_document(
                    DocumentVersion(f"doc{d}.md", f"doc {d}", str(d), records, base[start : start + len(records)])
                )
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            index.warm()
            load_s = time.perf_counter() - started
            texts = [" ".join(_WORDS[w] for w in rng.integers(0, len(_WORDS), 6)) for _ in range(queries)]
            exact_times = _search_times(index, texts, probes)
        started = time.perf_counter()
        with SqliteIndex(folder, embedder=_Synthetic(), ann_threshold=1) as approximate:
            approximate.warm()  # builds and saves the HNSW graph
            ann_build_s = time.perf_counter() - started
            ann_times = _search_times(approximate, texts, probes)
        started = time.perf_counter()
        with SqliteIndex(folder, embedder=_Synthetic(), ann_threshold=1) as reopened:
            reopened.warm()  # loads the saved graph
            ann_load_s = time.perf_counter() - started
        from providers.local.ann import HnswIndex

        graph = HnswIndex.build(base)
        exact_top = np.argsort(-(probes @ base.T), axis=1)[:, :10]
        found = sum(
            len(set(graph.search(p, 10).tolist()) & set(row.tolist())) for p, row in zip(probes, exact_top, strict=True)
        )
        vector_times = []
        for probe in probes:
            t = time.perf_counter()
            scores = base @ probe
            np.argpartition(-scores, 49)[:50]
            vector_times.append(time.perf_counter() - t)
    e50, e99 = _percentiles(exact_times)
    a50, a99 = _percentiles(ann_times)
    v50, v99 = _percentiles(vector_times)
    return {
        "chunks": chunks,
        "build_s": build_s,
        "load_s": load_s,
        "ann_build_s": ann_build_s,
        "ann_load_s": ann_load_s,
        "hybrid_exact_p50_ms": e50,
        "hybrid_exact_p99_ms": e99,
        "hybrid_ann_p50_ms": a50,
        "hybrid_ann_p99_ms": a99,
        "vector_exact_p50_ms": v50,
        "vector_exact_p99_ms": v99,
        "ann_recall_at_10": found / exact_top.size,
    }


def evaluate_embedders() -> None:
    """Per embedder: eval scores, the warm per-question time (embed + search + answer, second pass), index build."""
    from evaluation import QUESTIONS_FILE, evaluate, load_questions
    from providers import factory

    questions = load_questions(QUESTIONS_FILE)
    for embedder in ("hash", "minilm"):
        with tempfile.TemporaryDirectory() as folder:
            os.environ["PIPELINE_DATA_DIR"] = folder
            os.environ["PIPELINE_LOCAL_EMBEDDER"] = embedder
            factory.reset()
            try:
                started = time.perf_counter()
                retriever = factory.get_retriever()  # indexes the bundled corpus
                index_s = time.perf_counter() - started
                providers = {"embedder": factory.get_embedder(), "retriever": retriever}
                evaluate(questions, **providers, generator=factory.get_generator(), top_k=3)  # warms the caches
                report = evaluate(questions, **providers, generator=factory.get_generator(), top_k=3)
            finally:
                factory.reset()
        s = report.summary
        p50, p99 = _percentiles([q.seconds for q in report.scores])
        print(
            f"{embedder}: questions={s.questions} hit@1={s.hit_at_1:.3f} hit@3={s.hit_at_3:.3f} mrr={s.mrr:.3f} "
            f"cites={s.answer_cites_expected:.3f} on_point={s.on_point:.3f} refusals={s.refusal_on_unanswerable:.3f} "
            f"false_refusals={s.false_refusals:.3f} warm_ms_p50={p50:.1f} warm_ms_p99={p99:.1f} "
            f"corpus_index_s={index_s:.1f}"
        )


def ask_cold(runs: int = 3) -> None:
    """`pipeline ask` as a new process each time, the sample index already built: wall time per run."""
    import subprocess

    pipeline = Path(sys.executable).with_name("pipeline")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PIPELINE_DATA_DIR": folder}
        env.pop("PIPELINE_LOCAL_EMBEDDER", None)
        question = "How does the pipeline retry a failed step?"
        started = time.perf_counter()
        subprocess.run([pipeline, "ask", question], env=env, check=True, capture_output=True)
        print(f"first ask (builds the sample index): {time.perf_counter() - started:.2f} s")
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([pipeline, "ask", question], env=env, check=True, capture_output=True)
            print(f"cold ask: {time.perf_counter() - started:.2f} s")


def ingest(copies: int, runs: int = 5) -> None:
    """`pipeline index` over `copies` copies of `corpus/` into an empty index: seconds and files/s per run."""
    import re
    import shutil
    import subprocess

    pipeline = Path(sys.executable).with_name("pipeline")
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    with tempfile.TemporaryDirectory() as folder:
        documents = Path(folder) / "documents"
        for copy in range(copies):
            shutil.copytree(corpus, documents / f"copy-{copy:04d}")
        files = sum(1 for _ in documents.rglob("*.md"))
        for _ in range(runs):
            data = tempfile.mkdtemp(dir=folder)
            env = {**os.environ, "PIPELINE_DATA_DIR": data, "PIPELINE_LOCAL_EMBEDDER": "hash"}
            done = subprocess.run(
                [pipeline, "index", str(documents)], env=env, check=True, capture_output=True, text=True
            )
            seconds = float(re.search(r"in ([0-9.]+) s", done.stdout).group(1))  # type: ignore[union-attr]
            print(f"indexed {files} files in {seconds:.2f} s: {files / seconds:.0f} files/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("latency")
    run.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    run.add_argument("--queries", type=int, default=200)
    commands.add_parser("eval")
    commands.add_parser("ask")
    ingesting = commands.add_parser("ingest")
    ingesting.add_argument("--copies", type=int, default=200)
    args = parser.parse_args()
    if args.command == "ingest":
        ingest(args.copies)
        return
    if args.command == "eval":
        evaluate_embedders()
        return
    if args.command == "ask":
        ask_cold()
        return
    for n in args.chunks:
        result = latency(n, args.queries)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
