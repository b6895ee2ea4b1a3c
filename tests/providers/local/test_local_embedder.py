"""HashingEmbedder: deterministic across processes, normalised, and similar texts land close."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from providers.local.hashing_embedder import HashingEmbedder, stem, tokenize

ROOT = Path(__file__).resolve().parents[3]


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_model_name_and_dimensions() -> None:
    embedder = HashingEmbedder()
    assert embedder.dimensions == 384
    assert embedder.model == "local-hashing-384-v1"
    assert HashingEmbedder(dimensions=128).model == "local-hashing-128-v1"


def test_same_vector_in_another_process(embedder: HashingEmbedder) -> None:
    text = "How are invalid messages dead-lettered?"
    code = (
        "import json; from providers.local.hashing_embedder import HashingEmbedder; "
        f"print(json.dumps(HashingEmbedder().embed([{text!r}]).vectors[0]))"
    )
    # A different hash seed proves nothing depends on Python's salted hash().
    env = {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    assert np.allclose(json.loads(out.stdout), embedder.embed([text]).vectors[0], atol=1e-7)


def test_related_texts_are_closer_than_unrelated(embedder: HashingEmbedder) -> None:
    query, related, unrelated = embedder.embed(
        [
            "Why was my queue message dead-lettered?",
            "Messages that exceed the max delivery count are moved to the dead-letter queue.",
            "Spans are exported to Application Insights with OpenTelemetry.",
        ]
    ).vectors
    assert _cos(query, related) > _cos(query, unrelated) + 0.1


def test_empty_and_stop_word_text_gives_zero_vector(embedder: HashingEmbedder) -> None:
    vectors = embedder.embed(["", "what is the"]).vectors
    assert all(not any(v) for v in vectors)
    assert embedder.embed([]).vectors == []


def test_light_stemming_meets_inflections() -> None:
    assert stem("retries") == stem("retried") == stem("retrying") == stem("retry")
    assert stem("queue") == stem("queued") == stem("queues")
    assert stem("embedding") == stem("embed")
    assert stem("status") == "status" and stem("bus") == "bus"
    assert tokenize("What is the dead-letter queue?") == ["dead", "letter", "queu"]
