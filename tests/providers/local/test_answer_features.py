"""What the local answerer measures: question intent, topic words, and how question tokens are matched."""

from __future__ import annotations

import numpy as np
import pytest

from providers.local.answer_features import TokenMatch, intent_of, question_terms, question_words, unknown_name
from providers.local.hashing_embedder import tokenize, words
from providers.local.minilm_embedder import MiniLMEmbedder
from providers.local.sentence_vectors import SentenceVectors


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why is a malformed message not retried?", "why"),
        ("How many attempts does a step get by default?", "quantity"),
        ("What is the default port?", "quantity"),
        ("What is a task hub?", "what"),
        ("Which port does the local server listen on?", "quantity"),
        ("When does a step fail for good?", "when"),
        ("Where is local state kept?", "where"),
        ("How do I send telemetry to Jaeger?", "how"),
        ("Does a run survive a crash?", "yes_no"),
    ],
)
def test_the_question_type_comes_from_its_wording(question: str, kind: str) -> None:
    assert intent_of(question).kind == kind


def test_a_quantity_question_wants_a_number() -> None:
    cue = intent_of("How long are the pauses between attempts?").cue
    assert cue is not None and cue.search("The waits are 1 second, then 2 seconds.")
    assert not cue.search("The pipeline retries what another attempt can fix.")


def test_question_filler_is_not_a_topic_word() -> None:
    assert question_words("How are retries done?") == ["retries"]
    assert question_terms("What happens to an invalid queue message?") == set(tokenize("invalid queue message"))


@pytest.fixture(scope="module")
def vectors() -> SentenceVectors:
    return SentenceVectors(MiniLMEmbedder())


def _weakest(question: np.ndarray, *texts: np.ndarray) -> float:
    return TokenMatch.weakest_of(TokenMatch(question).best_per_text(texts))


def _coverage(question: np.ndarray, text: np.ndarray) -> float:
    return float(TokenMatch.coverage_of(TokenMatch(question).best_per_text([text]))[0])


def test_a_paraphrased_word_is_matched_and_a_missing_thing_is_not(vectors: SentenceVectors) -> None:
    passage = "A received message stays invisible to other consumers while it is locked."
    paraphrase, absent, offered = vectors.token_states(
        ["For how long is a received item hidden?", "How do I configure Cosmos DB?", passage]
    )
    assert _weakest(paraphrase, offered) > _weakest(absent, offered) + 0.1
    assert _coverage(paraphrase, offered) > _coverage(absent, offered)


def test_a_token_is_read_in_its_sentence(vectors: SentenceVectors) -> None:
    # The same word piece gets a different state in another context: that is what a word list cannot do.
    river, money = vectors.token_states(["the river bank", "the bank account"])
    assert river.shape == money.shape == (2, 384)
    bank_in_river, bank_in_money = river[1], money[0]
    assert float(bank_in_river @ bank_in_money) < 0.9
    assert np.allclose(np.linalg.norm(river, axis=1), 1.0, atol=0.02)


def test_nothing_to_match_counts_as_uncovered(vectors: SentenceVectors) -> None:
    (only_stop_words,) = vectors.token_states(["the of and"])
    assert only_stop_words.shape == (0, 384)
    (offered,) = vectors.token_states(["Some passage."])
    assert _weakest(only_stop_words, offered) == 0.0
    (question,) = vectors.token_states(["What is a queue?"])
    assert _weakest(question) == 0.0  # no text at all
    assert _coverage(question, np.zeros((0, 384), dtype=np.float32)) == 0.0  # a text with nothing to match


_PASSAGE_WORDS = frozenset(words("PIPELINE_DATA_DIR holds the state on macOS. Each URL gets a POST from Event Grid."))


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Does the pipeline support Kafka?", 1.0),
        ("Can I use RabbitMQ or Event Grid?", 1.0),  # one unknown name is enough
        ("What is stored in PIPELINE_CACHE_DIR?", 1.0),  # a setting whose parts are not all there
        ("What does PIPELINE_DATA_DIR hold?", 0.0),  # split as the passages' words are
        ("How do I install it on my Mac?", 0.0),  # "macos" begins with "mac"
        ("Which URLs get a POST?", 0.0),  # a plural is its singular
        ("Kafka? Is it supported?", 0.0),  # a capital that starts a sentence names nothing
        ("can i use kafka?", 0.0),  # without capitals there is no telling a name from a word
        ("What Happens To A Broken POST?", 0.0),  # Title Case: capitals are the style, not names
        ("WHERE IS THE STATE ON MY MAC?", 0.0),
    ],
)
def test_a_name_the_passages_never_spell_is_unknown(question: str, unknown: float) -> None:
    assert unknown_name(question, _PASSAGE_WORDS) == unknown


def test_one_product_for_all_texts_gives_each_texts_own_best() -> None:
    rng = np.random.default_rng(7)
    question = rng.standard_normal((4, 8)).astype(np.float32)
    texts = [rng.standard_normal((n, 8)).astype(np.float32) for n in (3, 0, 1, 5)]
    best = TokenMatch(question).best_per_text(texts)
    for column, text in enumerate(texts):
        expected = (question @ text.T).max(axis=1) if len(text) else np.full(4, -np.inf)
        assert np.allclose(best[:, column], expected)
    assert TokenMatch.coverage_of(best)[1] == 0.0  # a text without tokens covers nothing
    assert TokenMatch.weakest_of(best) == pytest.approx(float(best[:, [0, 2, 3]].max(axis=1).min()))
