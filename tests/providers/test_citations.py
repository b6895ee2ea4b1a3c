"""Reading a model's reply: markers, sentences, unknown markers and uncited sentences removed."""

from __future__ import annotations

from providers.citations import best_quote, cited_numbers, drop_unknown, keep_cited, renumber_citations, sentences


def test_citations_are_read_in_order_and_renumbered() -> None:
    text = "Steps back off [2]. Events are CloudEvents [1, 2][7]. Again [2]."
    assert cited_numbers(text, count=3) == [2, 1]
    assert renumber_citations(text, [2, 1]) == "Steps back off [1]. Events are CloudEvents [2][1]. Again [1]."


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    text = "Steps back off. [1] Events are CloudEvents.[2][3]\n- Timers are durable [Document 2]"
    assert sentences(text) == [
        "Steps back off [1].",
        "Events are CloudEvents [2][3].",
        "Timers are durable [Document 2]",
    ]
    assert cited_numbers(text, count=3) == [1, 2, 3]


def test_abbreviations_and_decimals_do_not_end_a_sentence() -> None:
    assert sentences("Use a timer, e.g. a durable one [1]. Version 1.5 works [2].") == [
        "Use a timer, e.g. a durable one [1].",
        "Version 1.5 works [2].",
    ]


def test_unknown_markers_are_removed_without_leaving_a_gap() -> None:
    text = "Retries back off [1][7]. Messages are kept [7]. Both [2, 9]."
    assert drop_unknown(text, 3) == "Retries back off [1]. Messages are kept. Both [2]."
    assert drop_unknown(text, 0) == "Retries back off. Messages are kept. Both."


def test_only_cited_sentences_are_kept_and_the_layout_stays() -> None:
    text = (
        "Here is how retries work:\n\n"
        "- The orchestrator waits on a durable timer [1]. It is very robust.\n"
        "- The wait doubles: 1 s, 2 s, 4 s. [2]\n"
        "- Nobody knows why.\n\n"
        "## Summary\nThat is all [1]."
    )
    assert keep_cited(text) == (
        "- The orchestrator waits on a durable timer [1].\n- The wait doubles: 1 s, 2 s, 4 s [2].\n\nThat is all [1]."
    )
    assert keep_cited("Nothing here is cited. Nor here.") == ""


def test_best_quote_picks_the_sentence_the_claim_relies_on() -> None:
    passage = "Intro text here. Failed steps are retried with exponential backoff up to three times. Other."
    answer = "A failed step is retried with exponential backoff [1]. Events are published [2]."
    assert best_quote(passage, answer, 1) == "Failed steps are retried with exponential backoff up to three times."
    assert best_quote("x" * 1000, "unrelated [1]", 1, max_chars=50).endswith("…")
    assert len(best_quote("x" * 1000, "unrelated [1]", 1, max_chars=50)) <= 50
