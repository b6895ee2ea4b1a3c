"""`pipeline ask` loads the model while its host starts: the providers are built and the model loaded by then."""

from __future__ import annotations

import pytest

from providers import factory
from providers.local.minilm_embedder import MiniLMEmbedder


def test_loading_in_the_background_builds_the_step_providers_and_loads_the_model() -> None:
    assert factory.get_retriever.built() is None and factory.get_generator.built() is None
    factory.load_models_in_background().join()
    assert factory.get_retriever.built() is not None and factory.get_generator.built() is not None
    embedder = factory._embedder.built()
    assert isinstance(embedder, MiniLMEmbedder) and embedder.loaded


def test_a_provider_that_cannot_be_built_is_left_to_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_LOCAL_EMBEDDER", "no-such-embedder")
    factory.load_models_in_background().join()  # no exception escapes the thread: the step reports it
    assert factory._embedder.built() is None


def test_the_early_model_load_opens_no_index() -> None:
    """Started before the state folder is prepared: the first ask's index build stays the CLI's, with its progress."""
    factory.load_model_in_background().join()
    embedder = factory._embedder.built()
    assert isinstance(embedder, MiniLMEmbedder) and embedder.loaded
    assert factory.get_retriever.built() is None and factory.get_generator.built() is None
    assert not (factory.get_settings().pipeline_data_dir / "index").exists()
