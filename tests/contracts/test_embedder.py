"""What every `Embedder` does (hashing, MiniLM, Azure OpenAI through its SDK against the recording server).

The Azure case's vectors come from a stand-in model behind the wire (see `embeddings_model`), answering in
the service's shape with its items out of order; what is tested is that the client hands back, in input
order and unchanged, what the model computed, as the local embedders do.

Empty or whitespace-only text is not covered: the local embedders give it a vector (zero for hashing) and
Azure OpenAI refuses it (`invalid_input`, tested in `tests/providers/azure`), and both are what callers expect.
"""

from __future__ import annotations

import numpy as np
import pytest

from contracts.errors import ErrorKind
from providers.base import Embedder
from providers.errors import ProviderError

TEXTS = [
    "Why was my queue message dead-lettered?",
    "Messages that exceed the max delivery count are moved to the dead-letter queue.",
    "Spans are exported to Application Insights with OpenTelemetry.",
]


def test_every_vector_has_the_dimensions_the_embedder_says(any_embedder: Embedder) -> None:
    result = any_embedder.embed(TEXTS)
    assert len(result.vectors) == len(TEXTS)
    assert {len(v) for v in result.vectors} == {any_embedder.dimensions}
    assert isinstance(result.model, str) and result.model and any_embedder.model


def test_vectors_are_unit_length(any_embedder: Embedder) -> None:
    norms = np.linalg.norm(np.asarray(any_embedder.embed(TEXTS).vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3), norms


def test_the_same_text_gives_the_same_vector(any_embedder: Embedder) -> None:
    first, second = (any_embedder.embed([TEXTS[1]]).vectors[0] for _ in range(2))
    assert np.allclose(first, second, atol=1e-6)


def test_a_batch_gives_each_text_the_vector_it_gets_alone_in_input_order(any_embedder: Embedder) -> None:
    batch = np.asarray(any_embedder.embed(TEXTS).vectors)
    alone = np.asarray([any_embedder.embed([text]).vectors[0] for text in TEXTS])
    assert np.allclose(batch, alone, atol=1e-4)  # batching pads, which must change nothing
    assert not np.allclose(batch[0], batch[1], atol=1e-2)  # the texts do differ


def test_nothing_to_embed_gives_no_vectors(any_embedder: Embedder) -> None:
    assert any_embedder.embed([]).vectors == []


@pytest.mark.parametrize(
    "texts",
    [pytest.param("one-text", id="a string, not a list"), pytest.param(["ok", 3], id="not text")],
)
def test_input_that_is_not_a_list_of_texts_is_invalid_input(any_embedder: Embedder, texts: object) -> None:
    with pytest.raises(ProviderError) as refused:
        any_embedder.embed(texts)  # type: ignore[arg-type]
    assert refused.value.kind is ErrorKind.INVALID_INPUT
