"""ExtractiveAnswerer: quotes only passage sentences, cites only given passages, admits when nothing fits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ingestion.ingest import index_paths
from ingestion.sources import CORPUS_DIR
from providers.base import Answer, Passage
from providers.local.extractive import NO_ANSWER, ExtractiveAnswerer
from providers.local.minilm_embedder import MiniLMEmbedder
from providers.local.sentence_vectors import SentenceVectors
from providers.local.sqlite_index import SqliteIndex


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(params=["semantic", "lexical"])
def answerer(request: pytest.FixtureRequest, minilm: MiniLMEmbedder) -> ExtractiveAnswerer:
    """The default answerer (MiniLM sentence vectors) and the fallback without a sentence model."""
    return ExtractiveAnswerer(SentenceVectors(minilm) if request.param == "semantic" else None)


PASSAGES = [
    Passage(
        id="bus-1",
        title="Service Bus > Dead-lettering",
        source="corpus/service-bus.md",
        content=(
            "A message that is not a valid Question is not retried. It is dead-lettered with a reason that names "
            "the problem. The original message is completed.\n\n- The reason is recorded as DeadLetterReason."
        ),
    ),
    Passage(
        id="bus-2",
        title="Service Bus > Delivery count",
        source="corpus/service-bus.md",
        content=(
            "Each delivery increments the delivery count. After ten deliveries Service Bus dead-letters the message "
            'with the reason MaxDeliveryCountExceeded.\n\n```\nconfig = {"maxDeliveryCount": 10}\n```'
        ),
    ),
    Passage(
        id="otel-1",
        title="Telemetry",
        source="corpus/telemetry.md",
        content="Spans are exported to Application Insights. Question text is not recorded by default.",
    ),
]
_MARKER = re.compile(r" ?\[(\d+)\]")


def _normalise(text: str) -> str:
    # Whitespace collapsed and list markers dropped, as the answerer reads a passage.
    return re.sub(r"(?:^|(?<=\s))[-*+] ", "", " ".join(text.split()))


def test_answer_quotes_only_passage_sentences_and_cites_given_ids(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("Why is a message dead-lettered, and with which reason?", PASSAGES)
    assert answer.model.startswith("local-extractive-v2")
    assert answer.input_tokens == 0 and answer.output_tokens == 0
    assert answer.quotes, answer.text

    sentences = [s.strip() for s in _MARKER.split(answer.text)[::2] if s.strip()]
    corpus = " ".join(_normalise(p.content) for p in PASSAGES)
    assert sentences and all(sentence in corpus for sentence in sentences)

    # Citations of given passages only, numbered in order, each quote from its passage: the AnswerGenerator
    # contract (tests/contracts). Here: what the extractive answerer leaves out.
    assert "otel-1" not in answer.quotes
    assert "{" not in answer.text  # code is searchable but never quoted


def test_answer_is_short_and_not_redundant(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("How does the delivery count lead to dead-lettering?", PASSAGES)
    body = _MARKER.sub("", answer.text)
    assert len(body) <= 700
    sentences = [s for s in _MARKER.split(answer.text)[::2] if s.strip()]
    assert len(sentences) == len(set(sentences)) <= 4


@pytest.mark.parametrize(
    "question",
    ["the of and to is", "xqzv blorpt frangle wibbet?", "Wie viele Zustellungen gibt es, bevor sie verschoben wird?"],
)
def test_stop_words_gibberish_and_other_languages_are_refused(answerer: ExtractiveAnswerer, question: str) -> None:
    answer = answerer.answer(question, PASSAGES)
    assert answer.text == NO_ANSWER and answer.quotes == {}


def test_a_table_row_is_quoted_as_its_cells(answerer: ExtractiveAnswerer) -> None:
    table = Passage(
        "fees-1",
        "Fares > Prices",
        "fares.md",
        "| Pass | Price |\n| --- | --- |\n| Day pass | $8.00 |\n| Annual pass, student | $71.00 |",
    )
    always = ExtractiveAnswerer(answerer._vectors, weights=replace(answerer._weights, threshold=0.0))
    answer = always.answer("What does the student annual pass cost?", [table])
    assert list(answer.quotes) == ["fees-1"] and "Annual pass, student | $71.00 [1]" in answer.text
    assert "| ---" not in answer.text and "Pass | Price" not in answer.text  # no separator or header row


def test_a_passage_of_code_only_is_quoted_whole(answerer: ExtractiveAnswerer) -> None:
    code = Passage("cli-1", "Restoring > One file", "restore.md", "```\nburrow restore --file report.xlsx\n```")
    question = "What command restores a single file like report.xlsx?"
    analysis = answerer.analyse(question, [code])
    assert analysis is not None and [s.text for s in analysis.sentences] == [code.content]
    # Whether the gate answers depends on fitted weights; how it quotes does not.
    always = ExtractiveAnswerer(answerer._vectors, weights=replace(answerer._weights, threshold=0.0))
    answer = always.answer(question, [code])
    assert list(answer.quotes) == ["cli-1"] and "burrow restore --file report.xlsx" in answer.text


def test_a_sentence_under_a_matching_heading_beats_an_equal_one_elsewhere(answerer: ExtractiveAnswerer) -> None:
    # Both sentences share the same question words; only the heading says which one is on topic.
    on_topic = Passage(
        "a",
        "Retries > Backoff between attempts",
        "a.md",
        "The orchestrator waits longer before each new attempt of a step.",
        0.03,
    )
    off_topic = Passage(
        "b", "Telemetry > Spans", "b.md", "The span of each new attempt of a step records how long it waited.", 0.03
    )
    # Equal retrieval scores (so equal standing), summed over both orders: only the words and the headings differ.
    totals = {on_topic.content: 0.0, off_topic.content: 0.0}
    for order in ([off_topic, on_topic], [on_topic, off_topic]):
        analysis = answerer.analyse("How is the backoff between attempts chosen?", order)
        assert analysis is not None
        for sentence, score in zip(analysis.sentences, analysis.scores, strict=True):
            totals[sentence.text] += score
    assert totals[on_topic.content] > totals[off_topic.content]


# The README's own examples, answered as `pipeline ask` answers them (MiniLM index, top 3): each must
# quote the fact a reader came for, not only a sentence from the right file.
README_QUESTIONS = [
    ("How does the pipeline retry a failed step?", ("durable timer", "backoff")),
    ("What happens to an invalid queue message?", ("dead-letter",)),
]


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Iterator[SqliteIndex]:
    with SqliteIndex(tmp_path_factory.mktemp("corpus"), embedder=minilm) as index:
        index_paths([CORPUS_DIR], index=index, embedder=minilm, base=CORPUS_DIR.parent)
        yield index


def _ask_corpus(index: SqliteIndex, minilm: MiniLMEmbedder, question: str) -> Answer:
    """`question` answered as `pipeline ask` answers it: MiniLM index of the bundled corpus, top 3."""
    passages = index.search(question, minilm.embed_array([question])[0], top_k=3)
    return ExtractiveAnswerer(SentenceVectors(minilm)).answer(question, passages)


@pytest.mark.parametrize(("question", "facts"), README_QUESTIONS)
def test_readme_questions_are_answered_on_point(
    corpus_index: SqliteIndex, minilm: MiniLMEmbedder, question: str, facts: tuple[str, ...]
) -> None:
    answer = _ask_corpus(corpus_index, minilm, question)
    assert all(fact in answer.text for fact in facts), answer.text


@pytest.mark.parametrize(
    "question",
    ["Does the pipeline support Kafka?", "How do I deploy it with Terraform?", "Can it run on Kubernetes?"],
)
def test_a_question_about_a_product_the_documents_never_name_is_refused(
    corpus_index: SqliteIndex, minilm: MiniLMEmbedder, question: str
) -> None:
    # Before, these were answered with the nearest settings or deployment sentences, each cited.
    answer = _ask_corpus(corpus_index, minilm, question)
    assert answer.text == NO_ANSWER and not answer.quotes, answer.text


def test_a_named_thing_the_documents_do_mention_is_answered(corpus_index: SqliteIndex, minilm: MiniLMEmbedder) -> None:
    answer = _ask_corpus(corpus_index, minilm, "How do I send traces to Jaeger?")
    assert answer.text != NO_ANSWER and "OTEL_EXPORTER_OTLP_ENDPOINT" in answer.text, answer.text


def test_passages_that_tie_in_retrieval_stand_level() -> None:
    # Reciprocal-rank fusion gives exact ties; which of two tied passages comes first is not evidence.
    level = [replace(p, score=0.5) for p in PASSAGES[:2]]
    analysis = ExtractiveAnswerer().analyse("Is an invalid message retried?", level)
    assert analysis is not None
    assert {s.standing for s in analysis.sentences} == {0}
    ranked = [replace(PASSAGES[0], score=0.6), replace(PASSAGES[1], score=0.5)]
    analysis = ExtractiveAnswerer().analyse("Is an invalid message retried?", ranked)
    assert analysis is not None
    assert {s.passage: s.standing for s in analysis.sentences} == {0: 0, 1: 1}


def test_a_whole_list_item_cites_each_of_its_sentences_and_the_answer_stays_within_four(
    answerer: ExtractiveAnswerer,
) -> None:
    items = [
        "- `transient`: throttling, timeouts and dropped connections. These are retried with exponential backoff.",
        "- `internal`: an unexpected exception in the step. This is retried once, in case it was a one-off.",
        "- `rejected`: a 4xx answer from a service. This is never retried, since it would fail the same way.",
    ]
    passage = Passage("k", "Errors > Kinds", "kinds.md", "Each error has a kind.\n\n" + "\n".join(items), 0.9)
    answer = answerer.answer("Which failures are retried with exponential backoff?", [passage])
    sentences = re.split(r"(?<=\])\s+", answer.text)
    assert 1 <= len(sentences) <= 4 and all(re.search(r"\[1\]$", s) for s in sentences), answer.text
    # The sentence that answers leans on its item's first one ("These are ..."): quoted whole, never alone.
    assert answer.text.startswith(
        "`transient`: throttling, timeouts and dropped connections. [1] These are retried with exponential backoff. [1]"
    ), answer.text
