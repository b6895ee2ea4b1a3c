"""The MiniLM embedder under load: concurrent callers share forward passes, and a question runs the model once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from providers.local.minilm_embedder import MiniLMEmbedder

QUESTIONS = [f"How does step number {n} of the pipeline retry after a failure?" for n in range(24)]


class _Counted(MiniLMEmbedder):
    """The real embedder, counting its forward passes and the texts in each."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[int] = []
        self.tokens: list[bool] = []
        self._count_lock = threading.Lock()
        self.hold = threading.Event()
        self.hold.set()

    def _forward_batch(self, batch, tokens):  # type: ignore[no-untyped-def]
        self.hold.wait()
        with self._count_lock:
            self.passes.append(len(batch))
            self.tokens.extend(tokens)
        return super()._forward_batch(batch, tokens)


def test_concurrent_callers_share_forward_passes_and_get_their_own_rows() -> None:
    alone = MiniLMEmbedder()
    expected = np.vstack([alone.embed_array([q]) for q in QUESTIONS])
    alone.close()

    embedder = _Counted()
    embedder.warm()
    embedder.hold.clear()  # the first pass waits, so the other callers queue behind it, as under load
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        futures = [pool.submit(embedder.embed_array, [q]) for q in QUESTIONS]
        threading.Timer(0.3, embedder.hold.set).start()
        rows = np.vstack([f.result(timeout=30) for f in futures])
    embedder.close()

    assert sum(embedder.passes) == len(QUESTIONS)  # every text embedded once
    assert len(embedder.passes) < len(QUESTIONS) / 2, embedder.passes  # in shared passes, not one each
    # Each caller gets its own text's vector, as if it had been embedded alone (padding changes nothing).
    assert np.min(np.sum(rows * expected, axis=1)) > 0.9999


def test_the_answer_step_reuses_the_questions_forward_pass() -> None:
    embedder = _Counted()
    question = "How does the pipeline retry a failed step?"
    vector = embedder.embed_array([question])
    passes = len(embedder.passes)
    again, states = embedder.embed_with_tokens([question, "A failed step is retried with exponential backoff."])
    assert len(embedder.passes) == passes + 1 and embedder.passes[-1] == 1  # only the new sentence ran
    assert np.allclose(again[0], vector[0]) and states[0].shape[0] > 0  # the question's token states are there
    embedder.close()


def test_token_states_are_read_only_where_they_are_used() -> None:
    embedder = _Counted()
    chunk = " ".join(["A failed step is retried with exponential backoff on a durable timer."] * 8)  # > 64 tokens
    vector = embedder.embed_array([chunk])  # indexing a chunk: its vector alone
    assert embedder.tokens == [False]
    again, states = embedder.embed_with_tokens([chunk])  # a long sentence the answerer reads
    assert embedder.tokens == [False, True] and states[0].shape[0] > 10
    assert np.allclose(again, vector, atol=1e-6)
    embedder.embed_array(["How does the pipeline retry?"])  # a question: kept for the answer step
    assert embedder.tokens[-1] is True
    embedder.close()


def test_a_failed_pass_fails_every_caller_in_it_and_the_next_pass_runs() -> None:
    class _FailingOnce(MiniLMEmbedder):
        failed = False

        def _forward_batch(self, batch, tokens):  # type: ignore[no-untyped-def]
            if not self.failed:
                self.failed = True
                raise RuntimeError("model failed")
            return super()._forward_batch(batch, tokens)

    embedder = _FailingOnce()
    with pytest.raises(RuntimeError, match="model failed"):
        embedder.embed_array(["one question"])
    assert embedder.embed_array(["another question"]).shape == (1, 384)
    embedder.close()
