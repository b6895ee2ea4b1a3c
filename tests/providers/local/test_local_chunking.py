"""Chunking follows headings, packs long sections at sentence boundaries with overlap, and reads HTML."""

from __future__ import annotations

import itertools

from ingestion.chunking import chunk_document, html_to_markdown, kind_for, quotable_units, split_sentences

MARKDOWN = """# Service Bus

The queue receives questions.

## Dead-lettering

Invalid messages are dead-lettered. The reason names the problem.

```python
# not a heading
x = {"a": 1}
```

### Reading them

Run `pipeline dead-letters` to list them.
"""


def test_chunks_follow_heading_paths() -> None:
    document = chunk_document(MARKDOWN, kind="markdown", name="service-bus.md")
    assert document.title == "Service Bus"
    titles = [chunk.title for chunk in document.chunks]
    assert titles == [
        "Service Bus",
        "Service Bus > Dead-lettering",
        "Service Bus > Dead-lettering > Reading them",
    ]
    assert "# not a heading" in document.chunks[1].content  # code fences are not parsed as headings
    assert [chunk.ordinal for chunk in document.chunks] == [0, 1, 2]


def test_long_section_is_packed_with_sentence_overlap() -> None:
    sentences = [f"Sentence number {i} talks about retries and backoff in some detail." for i in range(40)]
    document = chunk_document("# Long\n\n" + " ".join(sentences), kind="markdown", name="long.md")
    chunks = document.chunks
    assert len(chunks) > 2
    assert all(len(chunk.content) <= 900 for chunk in chunks)
    for previous, current in itertools.pairwise(chunks):
        before, now = split_sentences(previous.content), split_sentences(current.content)
        # The next chunk opens with the previous chunk's last whole sentences, about 100 characters of them.
        repeated = [sentence for sentence in now if sentence in before]
        assert repeated and repeated == before[-len(repeated) :] == now[: len(repeated)]
        assert 50 <= len(" ".join(repeated)) <= 150
    covered = " ".join(chunk.content for chunk in chunks)
    assert all(sentence in covered for sentence in sentences)


def test_plain_text_uses_the_file_name_as_title() -> None:
    document = chunk_document("# not a heading in text\nJust words.", kind="text", name="release_notes.txt")
    assert document.title == "Release notes"
    assert document.chunks[0].title == "Release notes"


def test_html_keeps_headings_and_drops_scripts() -> None:
    html = """<html><head><title>Guide</title><script>var x = "<h1>no</h1>";</script></head>
    <body><h1>Event   Grid</h1><p>Events are <b>CloudEvents</b>.</p><h2>Ids</h2><ul><li>Deterministic ids.</li></ul>
    </body></html>"""
    text, title = html_to_markdown(html)
    assert title == "Guide"
    assert "# Event Grid" in text and "## Ids" in text and "var x" not in text
    document = chunk_document(html, kind="html", name="guide.html")
    assert [chunk.title for chunk in document.chunks] == ["Guide > Event Grid", "Guide > Event Grid > Ids"]


def test_sentences_skip_code_and_tables_and_keep_abbreviations() -> None:
    text = "Use a timer, e.g. a durable one. Then wait!\n\n- First item\n\n| a | b |\n|---|---|\n\n```\ncode here\n```"
    assert split_sentences(text) == ["Use a timer, e.g. a durable one.", "Then wait!", "First item"]


def test_kind_for_extensions() -> None:
    assert kind_for("a.MD") == "markdown" and kind_for("b.htm") == "html" and kind_for("c.txt") == "text"
    assert kind_for("d.pdf") == "pdf" and kind_for("e.png") is None and kind_for("Makefile") is None


def test_a_unit_ends_a_sentence_and_a_title_does_not() -> None:
    text = "A search takes about 10 ms. For larger corpora an index helps. Ask Dr. Smith about it."
    assert split_sentences(text) == [
        "A search takes about 10 ms.",
        "For larger corpora an index helps.",
        "Ask Dr. Smith about it.",
    ]


def test_a_list_item_is_quoted_whole_and_a_long_one_by_sentence() -> None:
    long_item = "Second. " + "This sentence makes the item long. " * 12
    text = (
        "Errors have kinds.\n\n"
        "- `internal`: an unexpected exception. Retried in case it was a one-off.\n"
        f"- {long_item.strip()}\n\n"
        "| kind | retried |\n|---|---|\n| transient | yes |"
    )
    units = quotable_units(text)
    assert units[:2] == ["Errors have kinds.", "`internal`: an unexpected exception. Retried in case it was a one-off."]
    assert units[2] == "Second." and units[3] == "This sentence makes the item long."
    assert units[-1] == "transient | yes"
