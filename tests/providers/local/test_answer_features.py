"""What the local answerer measures: question intent, topic words, and how question words are matched."""

from __future__ import annotations

import numpy as np
import pytest

from providers.local.answer_features import WordMatch, intent_of, question_terms, question_words
from providers.local.hashing_embedder import tokenize
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


def test_a_paraphrased_word_is_matched_and_a_missing_thing_is_not(vectors: SentenceVectors) -> None:
    passages = ["A received message stays invisible to other consumers while it is locked."]
    paraphrase = WordMatch.build("For how long is a received item hidden?", passages, vectors.vectors)
    absent = WordMatch.build("How do I configure Cosmos DB?", passages, vectors.vectors)
    assert paraphrase.weakest() > absent.weakest() + 0.15
    assert paraphrase.coverage(passages[0]) > absent.coverage(passages[0])


def test_without_a_model_only_the_same_word_matches() -> None:
    match = WordMatch.build("Which queue holds dead letters?", ["The dead-letter queue holds them."], None)
    assert match.asked == ["queue", "holds", "dead", "letters"]
    assert match.weakest() == 0.0  # "letters" is not "letter": exact words only
    assert match.coverage("queue holds") == pytest.approx(0.5)
    assert np.array_equal(match.similarity.max(axis=1), [1.0, 1.0, 1.0, 0.0])


def test_nothing_to_match_counts_as_uncovered() -> None:
    assert WordMatch.build("the of and", ["Some passage."], None).weakest() == 0.0
    assert WordMatch.build("What is a queue?", [], None).weakest() == 0.0
